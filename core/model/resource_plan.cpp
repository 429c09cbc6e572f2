#include "core/model/resource_plan.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/io/error.h"

namespace patchlens {
namespace {

std::string mebibytes(double bytes) {
  std::ostringstream s;
  const double mib = bytes / double(1 << 20);
  if (mib >= 1e7) {
    s.precision(3);
    s << mib << " MiB";
  } else {
    s << std::llround(std::ceil(mib)) << " MiB";
  }
  return s.str();
}

}  // namespace

std::uint64_t availableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib << 10;
  }
  return 0;
}

std::uint64_t effectiveMemoryLimit(std::uint64_t requested) {
  std::uint64_t limit = requested ? requested : kDefaultMaxMemoryBytes;
  if (const std::uint64_t available = availableMemoryBytes()) limit = std::min(limit, available);
  // An address-space limit (ulimit -v) bounds it too, less what code, libraries and thread
  // stacks take (a quarter, at most 256 MiB).
  rlimit as{};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const std::uint64_t cap = static_cast<std::uint64_t>(as.rlim_cur);
    limit = std::min(limit, cap - std::min<std::uint64_t>(cap / 4, std::uint64_t{256} << 20));
  }
  return limit;
}

void checkResourcePlan(const ResourcePlan& plan, const ResourceLimits& limits,
                       const std::string& file) {
  const std::string tokens = plan.tokens > 0 ? std::to_string(plan.tokens) + " tokens" : "";
  const double outputLimit = static_cast<double>(limits.maxOutputBytes);
  if (plan.outputBytes > outputLimit) {
    throw BudgetError(
        file, plan.command + " would write " + mebibytes(plan.outputBytes) +
                  (tokens.empty() ? "" : " (" + tokens + ")") + ", over the output limit of " +
                  mebibytes(outputLimit) + "; --max-output-mb N raises it" +
                  (plan.outputHint.empty() ? "" : " (or ask for less: " + plan.outputHint + ")"));
  }
  const std::uint64_t limit = effectiveMemoryLimit(limits.maxMemoryBytes);
  const double memoryLimit = static_cast<double>(limit);
  if (plan.memoryBytes() > memoryLimit) {
    // Name the largest part: that is what the file or the options made large.
    const std::pair<double, const char*> parts[] = {{plan.attentionBytes, "attention"},
                                                    {plan.activationBytes, "token matrices"},
                                                    {plan.weightBytes, "weights"},
                                                    {plan.inputBytes, "model input"}};
    const auto largest = *std::max_element(std::begin(parts), std::end(parts),
                                           [](auto a, auto b) { return a.first < b.first; });
    const std::uint64_t asked =
        limits.maxMemoryBytes ? limits.maxMemoryBytes : kDefaultMaxMemoryBytes;
    throw BudgetError(file, plan.command + " needs " + mebibytes(plan.memoryBytes()) +
                                " of memory (" + (tokens.empty() ? "" : tokens + ", ") +
                                largest.second + " " + mebibytes(largest.first) +
                                "), over the memory limit of " + mebibytes(memoryLimit) +
                                (limit < asked ? " (what this machine or process has free)" : "") +
                                "; --max-memory-mb N raises it");
  }
}

double modelInputBytes(const PreprocessConfig& input) {
  const double pixels = double(input.height) * double(input.width);
  return pixels * 3.0 + pixels * std::max(input.channels, 1) * sizeof(float);
}

ResourcePlan preprocessPlan(const PreprocessConfig& input) {
  ResourcePlan plan;
  plan.command = "preprocess";
  plan.inputBytes = modelInputBytes(input);
  plan.outputBytes = double(input.height) * input.width * std::max(input.channels, 1) * 4.0;
  return plan;
}

ResourcePlan embeddingPlan(const PreprocessConfig& input, std::int64_t patches,
                           std::int64_t patchLength, std::int64_t embedDim) {
  ResourcePlan plan;
  plan.command = "embed";
  plan.tokens = patches;
  plan.inputBytes = modelInputBytes(input);
  plan.weightBytes = double(embedDim) * (double(patchLength) + 1.0) * sizeof(float);
  plan.activationBytes = double(patches) * (double(patchLength) + double(embedDim)) * sizeof(float);
  plan.outputBytes = double(patches) * double(embedDim) * sizeof(float);
  return plan;
}

double attentionScratchBytes(std::int64_t tokens, int heads, bool materialised) {
  if (!materialised) return 0.0;  // packed k, v and a tile per thread: in the block scratch
  return double(heads) * double(tokens) * double(tokens) * sizeof(float);
}

ResourcePlan forwardPlan(const TransformerConfig& c, std::int64_t gridRows, std::int64_t gridCols,
                         bool keepAttention, bool oneLayer, bool observedAttention) {
  ResourcePlan plan;
  plan.command = "forward";
  const double patches = double(gridRows) * double(gridCols);
  const double t = double(c.prefixTokens()) + patches;
  plan.tokens = static_cast<std::int64_t>(std::min(t, 9e18));
  const double d = c.embedDim;
  const double layers = double(c.depth) + 1.0;
  const double row = sizeof(float);
  // Kept: tokens_0..depth, final, the patch embedding, the patch matrix (C*P*P per patch).
  const double patchLength = double(c.inChannels) * c.patchSize * c.patchSize;
  const double kept = (layers + 1.0) * t * d * row + patches * (d + patchLength) * row;
  // One block's scratch: normed D, qkv 3D, context D, projection D, MLP hidden M, packed copy,
  // the blocked attention's packed keys and values (2D).
  const double scratch = t * (9.0 * d + 2.0 * c.mlpDim) * row;
  plan.activationBytes = kept + scratch;
  // The weights as loaded: blocks (qkv, projection, MLP, norms), patch embedding, positions.
  const double m = c.mlpDim;
  const double block = 4.0 * d * d + 2.0 * d * m + 9.0 * d + m;
  const double positions = (double(c.positionPrefixRows) +
                            double(c.nativeGridRows) * c.nativeGridCols + c.prefixTokens()) *
                           d;
  plan.weightBytes = (double(c.depth) * block + d * (patchLength + 1.0) + positions) * row;
  plan.attentionBytes =
      attentionScratchBytes(plan.tokens, c.numHeads, observedAttention || keepAttention);
  // BEiT: each block's relative position bias, [H x T x T], in both attention paths.
  if (!c.relativePositionBias.empty())
    plan.attentionBytes += attentionScratchBytes(plan.tokens, c.numHeads);
  plan.outputBytes = oneLayer ? t * d * row : (layers + 1.0) * t * d * row + patches * d * row;
  if (keepAttention)
    plan.outputBytes += double(c.depth) * attentionScratchBytes(plan.tokens, c.numHeads);
  return plan;
}

double qkvBytes(const TransformerConfig& config, std::int64_t tokens, std::int64_t blocks) {
  return 3.0 * double(blocks) * double(tokens) * double(config.embedDim) * sizeof(float);
}

ResourcePlan weightsPlan(const TransformerConfig& config) {
  ResourcePlan plan;
  plan.command = "loading the encoder";
  plan.weightBytes = forwardPlan(config, 0, 0, false, false, false).weightBytes;
  return plan;
}

}  // namespace patchlens
