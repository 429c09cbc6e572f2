#include "core/analysis/layer_trace.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "core/analysis/attention_distance.h"
#include "core/io/error.h"
#include "core/model/vision_transformer.h"

namespace patchlens {

std::string LayerTrace::layerName(int layer) const {
  if (layer == 0) return "Patch embedding";
  if (layer == 1) return "Input to block 1";
  if (layer == depth + 2) return "Final norm";
  return "Block " + std::to_string(layer - 1);
}

int LayerTrace::layerIndex(const std::string& spec) const {
  if (spec == "final") return depth + 2;
  if (spec == "patch" || spec == "embedding") return 0;
  int value = -1;
  const auto [ptr, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), value);
  if (spec.empty() || ec != std::errc() || ptr != spec.data() + spec.size() || value < 0 ||
      value > depth) {
    throw Error("", "layer '" + spec + "' does not exist: give 0.." + std::to_string(depth) +
                        " (tokens_L: 0 = input to block 1, L = output of block L), final or patch");
  }
  return value + 1;
}

int LayerTrace::blockForLayer(int layer) const {
  return std::clamp(layer - 1, 1, std::max(depth, 1));
}

int layerAtRelativeDepth(int layer, int from, int to) {
  if (from <= 0) return layer;
  return static_cast<int>(std::lround(static_cast<double>(layer) * to / from));
}

int blockAtRelativeDepth(int block, int from, int to) {
  return std::max(1, layerAtRelativeDepth(block, from, to));
}

int layerIndexAtRelativeDepth(int index, int from, int to) {
  if (index <= 0) return 0;
  if (index >= from + 2) return to + 2;
  return 1 + layerAtRelativeDepth(index - 1, from, to);
}

bool LayerTrace::hasAttention(int block) const {
  return block >= 1 && block <= static_cast<int>(attention.size()) &&
         !attention[static_cast<std::size_t>(block - 1)].empty();
}

const std::vector<RowMatrixF>& LayerTrace::attentionOf(int block) const {
  if (!hasAttention(block)) {
    throw Error("", "the attention of block " + std::to_string(block) + " was not kept");
  }
  return attention[static_cast<std::size_t>(block - 1)];
}

RowMatrixF LayerTrace::patchTokens(int layer) const {
  if (layer < 0 || layer >= layerCount()) {
    throw Error("", "layer " + std::to_string(layer) + " is out of range (0.." +
                        std::to_string(layerCount() - 1) + ": 0 = patch embedding, " +
                        std::to_string(layerCount() - 1) + " = final norm)");
  }
  const RowMatrixF& t = layers[static_cast<std::size_t>(layer)];
  return t.bottomRows(patches());
}

RowMatrixF LayerTrace::prefixTokensAt(int layer) const {
  const RowMatrixF& t = layers.at(static_cast<std::size_t>(layer));
  return t.topRows(t.rows() - patches());
}

void LayerTrace::observeBlock(int block, const std::vector<RowMatrixF>& blockHeads, bool keep) {
  if (block < 1 || block > depth)
    throw Error("", "block " + std::to_string(block) + " of " + std::to_string(depth));
  if (distances.rows() != depth || distances.cols() != static_cast<int>(blockHeads.size())) {
    distances = RowMatrixF::Zero(depth, static_cast<Eigen::Index>(blockHeads.size()));
  }
  distances.row(block - 1) =
      meanAttentionDistance(blockHeads, prefixTokens, gridRows, gridCols, patchSize).transpose();
  rollout.addBlock(blockHeads);
  if (attention.size() != static_cast<std::size_t>(depth))
    attention.resize(static_cast<std::size_t>(depth));
  if (keep) attention[static_cast<std::size_t>(block - 1)] = blockHeads;
}

TokenQuery TokenQuery::parse(const std::string& text) {
  TokenQuery q;
  const std::size_t comma = text.find(',');
  if (comma == std::string::npos) {
    if (text.empty()) throw std::invalid_argument("an empty query (expected R,C or cls)");
    // Names as the trace spells them, whatever the case: "CLS" -> "cls"; "reg2", "reg:2",
    // "reg_2" -> "reg 2".
    std::string name;
    for (const char c : text)
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    q.prefixName = name == "reg" ? "reg 1" : name;
    if (q.prefixName.rfind("reg", 0) == 0 && q.prefixName.size() > 3 && q.prefixName[3] != ' ') {
      const std::size_t skip = (q.prefixName[3] == ':' || q.prefixName[3] == '_') ? 4 : 3;
      q.prefixName = "reg " + q.prefixName.substr(skip);
    }
    return q;
  }
  auto number = [&](std::string_view s) {
    int v = -1;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v < 0)
      throw std::invalid_argument("query '" + text + "': expected ROW,COL or cls, dist, reg N");
    return v;
  };
  const std::string_view all(text);
  q.row = number(all.substr(0, comma));
  q.col = number(all.substr(comma + 1));
  return q;
}

int TokenQuery::token(const LayerTrace& trace) const {
  if (!prefixName.empty()) {
    for (std::size_t i = 0; i < trace.prefixNames.size(); ++i) {
      if (trace.prefixNames[i] == prefixName) return static_cast<int>(i);
    }
    std::string names;
    for (const auto& n : trace.prefixNames) names += (names.empty() ? "" : ", ") + n;
    throw Error("", "the model has no '" + prefixName + "' token (prefix tokens: " +
                        (names.empty() ? std::string("none") : names) + ")");
  }
  if (row >= trace.gridRows || col >= trace.gridCols) {
    throw Error("", "query patch (" + std::to_string(row) + ", " + std::to_string(col) +
                        ") is outside the " + std::to_string(trace.gridRows) + " x " +
                        std::to_string(trace.gridCols) + " grid");
  }
  return trace.prefixTokens + row * trace.gridCols + col;
}

LayerTrace traceTransformer(const VisionTransformer& model, const ChwTensor& input,
                            const TraceOptions& options) {
  const TransformerConfig& config = model.config();
  LayerTrace trace;
  trace.patchSize = config.patchSize > 0 ? config.patchSize : model.patchWeights().patchSize;
  trace.prefixTokens = config.prefixTokens();
  trace.prefixNames = config.prefixTokenNames();
  trace.depth = config.depth;
  trace.heads = config.numHeads;
  trace.gridRows = input.height / trace.patchSize;
  trace.gridCols = input.width / trace.patchSize;
  const std::int64_t t = trace.tokens();
  const bool keepAll = std::int64_t{config.depth} * config.numHeads * t * t *
                           static_cast<std::int64_t>(sizeof(float)) <=
                       options.attentionBudgetBytes;
  TransformerOutput out = model.forward(input, [&](int block, const std::vector<RowMatrixF>& h) {
    trace.observeBlock(block, h, keepAll || block == options.keepBlock);
  });
  trace.gridRows = out.gridRows;
  trace.gridCols = out.gridCols;
  trace.layers.reserve(out.tokens.size() + 2);
  trace.layers.push_back(std::move(out.patchEmbedding));
  for (RowMatrixF& layer : out.tokens) trace.layers.push_back(std::move(layer));
  trace.layers.push_back(std::move(out.final));
  return trace;
}

std::vector<RowMatrixF> attentionOfBlock(const VisionTransformer& model, const ChwTensor& input,
                                         int block) {
  if (block < 1 || block > model.config().depth) {
    throw Error("", "block " + std::to_string(block) + " is out of range (1.." +
                        std::to_string(model.config().depth) + ")");
  }
  std::vector<RowMatrixF> kept;
  model.forward(input, [&](int b, const std::vector<RowMatrixF>& heads) {
    if (b == block) kept = heads;
  });
  return kept;
}

}  // namespace patchlens
