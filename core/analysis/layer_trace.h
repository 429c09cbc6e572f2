#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/analysis/attention_rollout.h"
#include "core/image/chw_tensor.h"
#include "core/model/eigen_types.h"

namespace patchlens {

class VisionTransformer;

// One image through a ViT encoder as the views show it: the tokens at every layer, each
// block's per-head attention (kept while it fits a memory budget), the attention rollout and
// every head's mean attention distance, gathered by the AttentionObserver during one forward.
// Layer index: 0 = patch embedding [N x D], 1 = input to block 1 [T x D], 1 + l = output of
// block l, depth + 2 = final norm. Token order: prefix tokens (cls, dist, registers), patches.
struct LayerTrace {
  int gridRows = 0, gridCols = 0, patchSize = 0;
  int prefixTokens = 0;
  std::vector<std::string> prefixNames;  // {"cls", "reg 1", ...}
  int depth = 0, heads = 0;
  std::vector<RowMatrixF> layers;                  // depth + 3 entries, see above
  std::vector<std::vector<RowMatrixF>> attention;  // [depth]: block b at b - 1; empty if not kept
  RowMatrixF distances;                            // [depth x heads], pixels
  AttentionRollout rollout;                        // after every block

  int layerCount() const { return static_cast<int>(layers.size()); }
  int patches() const { return gridRows * gridCols; }
  int tokens() const { return prefixTokens + patches(); }
  // The layer index of a command-line layer, named like `forward`'s arrays: "L" = tokens_L
  // (0 = input to block 1, L = output of block L), "final" = the final norm, "patch" = the
  // patch embedding. Throws Error naming the accepted range.
  int layerIndex(const std::string& spec) const;
  // "Patch embedding", "Input to block 1", "Block 3", "Final norm".
  std::string layerName(int layer) const;
  // The block whose attention a layer shows: block l for its output, block 1 for the patch
  // embedding and the input to block 1, block L for the final norm.
  int blockForLayer(int layer) const;
  bool hasAttention(int block) const;
  const std::vector<RowMatrixF>& attentionOf(int block) const;  // throws Error when not kept
  // The layer's patch tokens [N x D] (its prefix rows left out). Throws Error out of range.
  RowMatrixF patchTokens(int layer) const;
  // The layer's prefix tokens [prefix x D] (none at the patch embedding).
  RowMatrixF prefixTokensAt(int layer) const;
  // Folds in one block's attention (the AttentionObserver's work): distances, rollout, and
  // the heads themselves when `keep`.
  void observeBlock(int block, const std::vector<RowMatrixF>& heads, bool keep);
};

// A query token by name: "cls", "dist", "reg N" or a patch "R,C".
struct TokenQuery {
  std::string prefixName;  // empty: a patch
  int row = 0, col = 0;
  // Throws std::invalid_argument with a one-line reason.
  static TokenQuery parse(const std::string& text);
  // The token index in [0, T); throws Error when the model has no such prefix token or the
  // patch is outside the grid.
  int token(const LayerTrace& trace) const;
};

// Two models of different depth at matching relative depth (issue 23; the GUI's two-models
// compare mode and `export --compare-weights` share these): tokens_l of a model of depth
// `from` beside tokens_round(l * to / from) of one of depth `to`.
int layerAtRelativeDepth(int layer, int from, int to);
// Block b beside block max(1, round(b * to / from)).
int blockAtRelativeDepth(int block, int from, int to);
// A layer index of a trace of depth `from` (0 = patch embedding, 1 + l = tokens_l, from + 2 =
// final norm) as the index of the matching layer in a trace of depth `to`: the patch embedding
// and the final norm name themselves.
int layerIndexAtRelativeDepth(int index, int from, int to);

struct TraceOptions {
  // Every block's attention is kept while depth x heads x T x T floats fit this budget
  // (ViT-B/16 at 224: 12 x 12 x 197² x 4 B = 22 MB); else none is kept, and a view that
  // needs a block's attention recomputes it with attentionOfBlock().
  std::int64_t attentionBudgetBytes = std::int64_t{256} << 20;
  // A block (1..depth) whose attention is kept whatever the budget (0: none).
  int keepBlock = 0;
};

// Runs the forward once, filling every field of the trace. Throws Error like forward().
LayerTrace traceTransformer(const VisionTransformer& model, const ChwTensor& input,
                            const TraceOptions& options = {});
// Block `block`'s heads (1..depth), by running the forward again and keeping only them.
std::vector<RowMatrixF> attentionOfBlock(const VisionTransformer& model, const ChwTensor& input,
                                         int block);

}  // namespace patchlens
