#include "ui/figures/plot_kind.h"

#include <charconv>
#include <stdexcept>

namespace patchlens {

namespace {

int number(std::string_view text, std::string_view whole) {
  int value = -1;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
    throw std::invalid_argument("'" + std::string(whole) + "': '" + std::string(text) +
                                "' is not a non-negative integer");
  }
  return value;
}

// "A<sep>B" as two numbers.
std::pair<int, int> pair(std::string_view text, char separator, std::string_view whole,
                         std::string_view form) {
  const std::size_t at = text.find(separator);
  if (at == std::string_view::npos) {
    throw std::invalid_argument("'" + std::string(whole) + "' needs " + std::string(form));
  }
  return {number(text.substr(0, at), whole), number(text.substr(at + 1), whole)};
}

}  // namespace

PlotKind PlotKind::parse(std::string_view text) {
  const std::size_t colon = text.find(':');
  const std::string_view head = text.substr(0, colon);
  const bool hasArgument = colon != std::string_view::npos;
  const std::string_view argument = hasArgument ? text.substr(colon + 1) : std::string_view{};
  auto noArgument = [&](PlotType type) {
    if (hasArgument)
      throw std::invalid_argument("'" + std::string(text) + "': " + std::string(head) +
                                  " takes no argument");
    return PlotKind{type, 0, 0};
  };
  auto needArgument = [&](std::string_view form) {
    if (!hasArgument)
      throw std::invalid_argument("'" + std::string(text) + "' needs " + std::string(form));
  };
  if (head == "channel") {
    needArgument("a channel, e.g. channel:5");
    return {PlotType::Channel, number(argument, text), 0};
  }
  if (head == "token" || head == "token-line" || head == "similarity" || head == "similarity-to") {
    needArgument("a patch ROW,COL, e.g. " + std::string(head) + ":3,7");
    const auto [r, c] = pair(argument, ',', text, "a patch ROW,COL");
    const PlotType type = head == "token"        ? PlotType::Token
                          : head == "token-line" ? PlotType::TokenLine
                          : head == "similarity" ? PlotType::Similarity
                                                 : PlotType::SimilarityTo;
    return {type, r, c};
  }
  if (head == "channels") {
    needArgument("a range FIRST-LAST, e.g. channels:0-63");
    const auto [a, b] = pair(argument, '-', text, "a range FIRST-LAST");
    if (b < a) throw std::invalid_argument("'" + std::string(text) + "': the range is reversed");
    if (b - a + 1 > 64)
      throw std::invalid_argument("'" + std::string(text) + "': at most 64 channels at once");
    return {PlotType::Channels, a, b};
  }
  if (head == "filters") return noArgument(PlotType::Filters);
  if (head == "filter-pca") return noArgument(PlotType::FilterPca);
  if (head == "pca") return noArgument(PlotType::Pca);
  if (head == "posembed") return noArgument(PlotType::PositionSimilarity);
  if (head == "histogram") return noArgument(PlotType::Histogram);
  if (head == "attention") {
    needArgument("a layer, e.g. attention:12 (mean over heads) or attention:12,3 (head 3)");
    if (argument.find(',') == std::string_view::npos)
      return {PlotType::Attention, number(argument, text), -1};
    const auto [l, h] = pair(argument, ',', text, "a layer L or L,H");
    return {PlotType::Attention, l, h};
  }
  if (head == "attention-heads") {
    needArgument("a layer, e.g. attention-heads:12");
    return {PlotType::AttentionHeads, number(argument, text), 0};
  }
  if (head == "attention-mask") {
    needArgument("a layer, e.g. attention-mask:12 (60 % of the mass) or attention-mask:12:0.8");
    const std::size_t at = argument.find(':');
    PlotKind kind{PlotType::AttentionMask, number(argument.substr(0, at), text), 0};
    if (at != std::string_view::npos) {
      const std::string_view t = argument.substr(at + 1);
      float value = 0.0f;
      const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
      if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !(value > 0.0f) ||
          value > 1.0f)
        throw std::invalid_argument("'" + std::string(text) + "': the mass threshold '" +
                                    std::string(t) + "' is not a number in (0, 1]");
      kind.threshold = value;
    }
    return kind;
  }
  if (head == "rollout") return noArgument(PlotType::Rollout);
  if (head == "attention-distance") return noArgument(PlotType::AttentionDistance);
  if (head == "token-norms") return noArgument(PlotType::TokenNorms);
  if (head == "joint-pca") return noArgument(PlotType::JointPca);
  if (head == "matches") {
    const int k = hasArgument ? number(argument, text) : 0;
    if (hasArgument && k == 0)
      throw std::invalid_argument("'" + std::string(text) + "': draw at least 1 match");
    return {PlotType::Matches, k, 0};
  }
  if (head == "prediction") {
    const int k = hasArgument ? number(argument, text) : 5;
    if (k == 0) throw std::invalid_argument("'" + std::string(text) + "': show at least 1 class");
    return {PlotType::Prediction, k, 0};
  }
  if (head == "gradcam" || head == "relevance")
    return {head == "gradcam" ? PlotType::GradCam : PlotType::Relevance,
            hasArgument ? number(argument, text) : -1, 0};
  if (head == "reconstruction") {
    const int k = hasArgument ? number(argument, text) : 0;
    if (hasArgument && k == 0)
      throw std::invalid_argument("'" + std::string(text) + "': keep at least 1 component");
    return {PlotType::Reconstruction, k, 0};
  }
  throw std::invalid_argument("unknown plot '" + std::string(text) + "' (expected " +
                              plotKindSyntax() + ")");
}

std::string PlotKind::name() const {
  const std::string rc = std::to_string(first) + "," + std::to_string(second);
  switch (type) {
    case PlotType::Channel:
      return "channel:" + std::to_string(first);
    case PlotType::Token:
      return "token:" + rc;
    case PlotType::TokenLine:
      return "token-line:" + rc;
    case PlotType::Channels:
      return "channels:" + std::to_string(first) + "-" + std::to_string(second);
    case PlotType::Filters:
      return "filters";
    case PlotType::FilterPca:
      return "filter-pca";
    case PlotType::Pca:
      return "pca";
    case PlotType::Similarity:
      return "similarity:" + rc;
    case PlotType::PositionSimilarity:
      return "posembed";
    case PlotType::Histogram:
      return "histogram";
    case PlotType::Reconstruction:
      return first > 0 ? "reconstruction:" + std::to_string(first) : "reconstruction";
    case PlotType::Attention:
      return "attention:" + std::to_string(first) +
             (second >= 0 ? "," + std::to_string(second) : "");
    case PlotType::AttentionHeads:
      return "attention-heads:" + std::to_string(first);
    case PlotType::AttentionMask: {
      std::string name = "attention-mask:" + std::to_string(first);
      if (threshold != kDefaultMassThreshold) {
        char buffer[32];
        const auto result = std::to_chars(buffer, buffer + sizeof buffer, threshold);
        name += ":" + std::string(buffer, result.ptr);
      }
      return name;
    }
    case PlotType::Rollout:
      return "rollout";
    case PlotType::AttentionDistance:
      return "attention-distance";
    case PlotType::TokenNorms:
      return "token-norms";
    case PlotType::Matches:
      return first > 0 ? "matches:" + std::to_string(first) : "matches";
    case PlotType::JointPca:
      return "joint-pca";
    case PlotType::SimilarityTo:
      return "similarity-to:" + rc;
    case PlotType::Prediction:
      return first != 5 ? "prediction:" + std::to_string(first) : "prediction";
    case PlotType::GradCam:
      return first >= 0 ? "gradcam:" + std::to_string(first) : "gradcam";
    case PlotType::Relevance:
      return first >= 0 ? "relevance:" + std::to_string(first) : "relevance";
  }
  return {};
}

bool PlotKind::needsTwoImages() const {
  return type == PlotType::Matches || type == PlotType::JointPca || type == PlotType::SimilarityTo;
}

bool PlotKind::needsClassifier() const {
  return type == PlotType::Prediction || type == PlotType::GradCam || type == PlotType::Relevance;
}

bool PlotKind::drawsTokens() const {
  switch (type) {
    case PlotType::Channel:
    case PlotType::Token:
    case PlotType::TokenLine:
    case PlotType::Channels:
    case PlotType::Similarity:
    case PlotType::Histogram:
    case PlotType::Pca:
      return true;
    default:
      return false;
  }
}

std::string plotKindSyntax() {
  return "channel:K, token:R,C, token-line:R,C, channels:A-B, filters, filter-pca, pca, "
         "similarity:R,C, "
         "posembed, histogram, reconstruction[:K], attention:L[,H], attention-heads:L, "
         "attention-mask:L[:T], rollout, "
         "attention-distance, token-norms, prediction[:K], gradcam[:K], relevance[:K]; with "
         "--compare B: matches[:K], joint-pca, "
         "similarity-to:R,C";
}

}  // namespace patchlens
