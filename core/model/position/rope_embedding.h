#pragma once

#include <vector>

#include "core/model/eigen_types.h"

namespace patchlens {

// Axial 2-D rotary position embedding, the one place PatchLens rotates q and k. A family's
// variant is data; every variant builds one angle per rotated pair (headDim / 2 of them, the
// first half following one grid axis, the second half the other) and rotates the patches only:
// the prefix tokens (cls, registers, storage) are not rotated.
//
// - DINOv3 (dinov3/layers/rope_position_encoding.py + attention.py): coordinates (i + 0.5) / H and
//   (j + 0.5) / W (normalize "separate"; "max"/"min" divide by max(H, W) / min(H, W)) mapped to
//   2c - 1, angles 2 pi c / period laid out [h periods, w periods], rotate-half pairs (t, t +
//   half).
//   Hugging Face's port multiplies by inverseFrequencies instead of dividing by periods.
// - timm RotaryEmbeddingCat (eva.py's 'cat': EVA-02, timm's SBB RoPE ViTs, Naver RoPE-ViT axial;
//   timm/layers/pos_embed_sincos.py build_fourier_pos_embed, in_pixels=False): coordinates
//   (index + grid offset), times ref / grid per axis when a ref_feat_shape is given, angles
//   coordinate x band (band k = 1 / temperature^(k / (headDim / 4))), the first axis the rows
//   ('ij') or the columns ('xy'); interleaved pairs (2t, 2t + 1) (apply_rot_embed_cat, half=False).
// - timm RotaryEmbeddingMixed (Naver RoPE-Mixed): learned frequencies per block and head,
//   angle t = x * fx[t] + y * fy[t] with x, y the column and row ('xy'; 'ij' swaps them);
//   interleaved pairs.
struct RopeEmbedding {
  enum class Normalize { Separate, Max, Min };
  enum class Coordinates { Dinov3Centered, TimmGrid };
  enum class Pairs { RotateHalf, Interleaved };

  Coordinates coordinates = Coordinates::Dinov3Centered;
  Pairs pairs = Pairs::RotateHalf;
  int prefixTokens = 0;  // tokens before the patches, left as they are

  // DINOv3: [headDim / 4] periods as the file stores them (Meta: bfloat16) or timm recomputes.
  std::vector<float> periods;
  Normalize normalize = Normalize::Separate;
  // Hugging Face's DINOv3ViTModel (modeling_dinov3_vit.py): the same centred coordinates, but
  // angles (2 pi c) * inv_freq with inv_freq = 1 / rope_theta^(k / (headDim / 4)) recomputed in
  // float32 (no periods in the file). Used when `periods` is empty.
  std::vector<float> inverseFrequencies;

  // timm 'cat': [headDim / 4] frequency bands, and the grid rule.
  std::vector<float> bands;
  bool columnsFirst = false;     // rope_grid_indexing 'xy': the first angles follow the columns
  float gridOffset = 0.0f;       // rope_grid_offset
  int refRows = 0, refCols = 0;  // ref_feat_shape (rows, cols); 0: coordinates are the indices

  // timm 'mixed': rope.freqs as stored, [2, depth, heads, headDim / 2] (fx then fy).
  std::vector<float> mixedFrequencies;
  int mixedDepth = 0, mixedHeads = 0;

  bool mixed() const { return !mixedFrequencies.empty(); }
  int headDim() const;
};

// The sin / cos of one patch grid, ready to rotate every block's q and k.
class RopeGrid {
 public:
  RopeGrid(const RopeEmbedding& rope, int gridRows, int gridCols);

  // Rotates q and k of every head in the patch rows of a fused [T x 3D] qkv (q columns, then
  // k, then v; head h at h * headDim), in place, with block `block`'s angles (only the mixed
  // variant has angles per block). T must be prefixTokens + gridRows * gridCols.
  void apply(RowMatrixF& qkv, int heads, int block = 0) const;

  // [gridRows * gridCols x headDim / 2], one angle per rotated pair (block 0, head 0).
  const RowMatrixF& sin() const { return m_sin.front(); }
  const RowMatrixF& cos() const { return m_cos.front(); }

 private:
  void buildAxial(const RopeEmbedding& rope, int gridRows, int gridCols);
  void buildMixed(const RopeEmbedding& rope, int gridRows, int gridCols);

  int m_prefix = 0;
  int m_headDim = 0;
  bool m_interleaved = false;
  int m_tablesPerBlock = 0;  // 0: one table for every block and head; else one per head
  std::vector<RowMatrixF> m_sin, m_cos;
};

}  // namespace patchlens
