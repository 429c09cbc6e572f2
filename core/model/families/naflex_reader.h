#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// Where one NaFlex encoder's tensors are, under `prefix`: timm's naflexvit.py names (the
// defaults) or another naming of the same graph (Hugging Face's Siglip2VisionModel: a renaming,
// read by the same code). Empty names are absent from that layout.
struct NaflexLayout {
  std::string layout;  // "timm naflexvit.py layout (...)": names the refusals
  std::string prefix;
  std::string patchWeight = "embeds.proj.weight";  // Linear [D, P*P*C]
  std::string patchBias = "embeds.proj.bias";      // optional
  bool channelsLast = true;                        // columns (ph, pw, c), else (c, ph, pw)
  // [1, H, W, D] (timm), or with squarePositionRows [S*S, D] read as an S x S grid (HF's
  // nn.Embedding(num_patches, D), reshaped to (S, S, D) in Siglip2VisionEmbeddings).
  std::string positions = "embeds.pos_embed";
  bool squarePositionRows = false;
  std::string classToken = "embeds.cls_token", registerTokens = "embeds.reg_token";  // optional
  std::string preNorm = "norm_pre";                                                  // optional
  std::string finalNorm = "norm";  // optional unless finalNormRequired
  bool finalNormRequired = false;
  std::string blocks = "blocks.";
  std::string norm1 = "norm1", norm2 = "norm2";
  std::string qkv = "attn.qkv";  // fused [3D, D]; empty: q, k, v apart
  std::string q, k, v;
  std::string proj = "attn.proj", fc1 = "mlp.fc1", fc2 = "mlp.fc2";
  std::string layerScale1 = "ls1.gamma", layerScale2 = "ls2.gamma";  // optional (both or none)
  bool biasesRequired = false;  // every Linear and the patch embedding have a bias
  // Tensor-name stems under the prefix known unused for the tokens, with the reason.
  std::vector<std::pair<std::string, std::string>> unused = {
      {"head.", "classifier head"},
      {"fc_norm.", "norm of the pooled output only (global_pool='avg')"},
      {"attn_pool.", "attention-pool (MAP) head, on the pooled output only"}};
  // Full-name stems outside the prefix known unused (a whole Siglip2Model's text tower); any
  // other tensor outside the prefix is refused by name.
  std::vector<std::pair<std::string, std::string>> unusedOutsidePrefix;
};

// What the tensors do not say, from the family's config.
struct NaflexRun {
  int heads = 0;
  std::string headsSource;
  Activation activation = Activation::Gelu;
  float layerNormEps = 1e-6f;  // timm.layers.LayerNorm
  bool bilinear = false;       // else bicubic
  int patchSize = 16, inChannels = 3;
  std::string patchDescription;
};

// The canonical weights of one NaFlex encoder (the code both namings share): the Linear's columns
// permuted into the conv's (c, ph, pw) order (exact), the position grid resized per image
// (PositionResample::NaflexBilinear / NaflexBicubic), no position row for cls / registers;
// every tensor under the layout's prefix consumed, on its unused list or refused by name.
// config.family and config.unusedTensors are left to the caller (unusedTensors holds the known
// unused ones found). Throws Error(path, ...).
TransformerWeights readNaflexEncoder(const TensorSource& source, const std::string& path,
                                     const NaflexLayout& layout, const NaflexRun& run,
                                     const TransformerLoadOptions& options);

// timm's NaFlexVit (naflexvit.py, SigLIP 2 NaFlex and its siblings) as a state dict at the top
// level: embeds.proj.weight a Linear [D, P*P*C] over patches flattened (ph, pw, c),
// embeds.pos_embed a learned [1, gh0, gw0, D] grid. True when the file has that layout (read by
// readTimmNaflex).
bool isTimmNaflexLayout(const TensorSource& source);

// The canonical weights: the Linear's columns permuted into the conv's (c, ph, pw) order (exact),
// the position grid resized to each input's grid as NaFlexEmbeds._apply_learned_pos_embed does
// (F.interpolate(size=grid, pos_embed_interp_mode, align_corners=False, antialias=True) unless
// the grid is the native one), no position row for cls / registers. One image whose patches fill
// the sequence: no padding, no attention mask. What the tensors do not say (heads, activation,
// interpolation mode) comes from timm's config.json beside the file (the registered
// architecture's NaFlexVitCfg, overridden by model_args); anything PatchLens does not run exactly
// (factorized or aspect-preserving position grids, grid_sample, RoPE, qk-norm, ...) is refused
// by name, as is every tensor nothing takes. Throws Error(path, ...).
std::shared_ptr<const TransformerWeights> readTimmNaflex(const TensorSource& source,
                                                         const std::string& path,
                                                         const TransformerLoadOptions& options);

}  // namespace patchlens
