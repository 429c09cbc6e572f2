#pragma once

#include <cstdint>
#include <string>

#include "core/image/preprocess.h"
#include "core/io/error.h"
#include "core/model/transformer_config.h"

namespace patchlens {

// The memory limit when none is given: 2048 MiB, and never more than the machine has free.
inline constexpr std::uint64_t kDefaultMaxMemoryBytes = std::uint64_t{2048} << 20;

// MemAvailable of /proc/meminfo in bytes; 0 when it cannot be read.
std::uint64_t availableMemoryBytes();
// The limit in force: `requested` (0: the default) capped at the machine's MemAvailable.
std::uint64_t effectiveMemoryLimit(std::uint64_t requested);

// What one command will hold and write, computed from headers and the model config before
// any work, so that a file asking for too much is refused in one line instead of running out
// of memory inside a parallel region (or waking the OOM killer).
struct ResourcePlan {
  std::string command;         // "forward", "preprocess", ...
  std::int64_t tokens = 0;     // T, prefix tokens included; 0 when no model runs
  double weightBytes = 0;      // the float32 weights held
  double inputBytes = 0;       // the resized visible region (8-bit) and the model input
  double activationBytes = 0;  // token matrices kept and the block's scratch
  double attentionBytes = 0;   // softmax probabilities held at once
  double outputBytes = 0;      // bytes written
  // Options that would ask for less output ("--layer L"), named in the refusal; may be empty.
  std::string outputHint;

  double memoryBytes() const { return weightBytes + inputBytes + activationBytes + attentionBytes; }
};

// A plan over --max-memory-mb or --max-output-mb: the GUI shows it in its banner (the open
// is refused) where another Error of the encoder only disables the transformer views.
class BudgetError : public Error {
 public:
  using Error::Error;
};

struct ResourceLimits {
  std::uint64_t maxMemoryBytes = 0;  // 0: kDefaultMaxMemoryBytes; capped at MemAvailable
  std::uint64_t maxOutputBytes = std::uint64_t{256} << 20;
};

// Refuses a plan over either limit: throws BudgetError(file, ...) naming the command, the bytes it
// needs, what dominates, the limit and the option that raises it (--max-memory-mb,
// --max-output-mb).
void checkResourcePlan(const ResourcePlan& plan, const ResourceLimits& limits,
                       const std::string& file);

// The preprocessing's memory for this model input: the visible resized region as 8-bit RGB
// (the resampler produces only that region) and the float [C, H, W] model input.
double modelInputBytes(const PreprocessConfig& input);

// `preprocess`: the model input held and written as float32 [C, H, W].
ResourcePlan preprocessPlan(const PreprocessConfig& input);

// `embed`: the model input, the im2col patch matrix [N, C*P*P] and the embedding [N, D] held;
// the embedding written.
ResourcePlan embeddingPlan(const PreprocessConfig& input, std::int64_t patches,
                           std::int64_t patchLength, std::int64_t embedDim);

// The encoder's attention memory. TransformerBlock decides it: with an observer (the GUI's
// trace, export, --attention) every head's [T x T] float probabilities of a block are held at
// once (heads * T * T * 4 bytes); without one the blocked kernel holds one tile per thread.
double attentionScratchBytes(std::int64_t tokens, int heads, bool materialised = true);

// A forward pass over a gridRows x gridCols patch grid: tokens T = prefix + patches; held:
// the token matrices of every layer (depth + 1, the final one, the patch embedding), one
// block's scratch (normed, qkv, context, projection, MLP hidden) and the attention;
// written: what `forward` writes (every layer, or one with `oneLayer`), plus every block's
// attention [heads, T, T] when `keepAttention`; the weights from the config's sizes.
// `observedAttention` false: nothing observes the attention (the blocked kernel runs).
ResourcePlan forwardPlan(const TransformerConfig& config, std::int64_t gridRows,
                         std::int64_t gridCols, bool keepAttention, bool oneLayer,
                         bool observedAttention = true);

// forward --qkv: q, k and v of `blocks` blocks, float32 [H, T, dh] each (3 T D floats a block).
double qkvBytes(const TransformerConfig& config, std::int64_t tokens, std::int64_t blocks);

// Loading an encoder: its float32 weights (from the config's sizes, as forwardPlan counts
// them), checked before any block tensor is converted.
ResourcePlan weightsPlan(const TransformerConfig& config);

}  // namespace patchlens
