#pragma once

#include <string>
#include <vector>

namespace patchlens {

// The MLP's non-linearity: erf GELU (timm, HF ViT, DINOv2, torchvision), the tanh
// approximation (SigLIP, Google's Flax ViT) or CLIP's x * sigmoid(1.702 x).
// SwiGlu: DINOv3 S+/H+/7B's gated MLP, fc2(silu(fc1 x) * fc1Gate x) (TransformerBlock::fc1Gate).
enum class Activation { Gelu, GeluTanh, QuickGelu, SwiGlu };

// Where the position-embedding table's rows go and how a family resamples it for another grid.
enum class PositionResample {
  None,           // the family's code cannot: a non-native grid is refused
  TimmBicubic,    // timm resample_abs_pos_embed: F.interpolate(size=, bicubic, antialias=True)
  HfScaleFactor,  // HF interpolate_pos_encoding (transformers 4.3x): bicubic, scale (g+0.1)/sqrt(N)
  // timm naflexvit NaFlexEmbeds: F.interpolate(size=, bicubic / bilinear, antialias=True) for
  // every grid other than the native one (no square shortcut as in resample_abs_pos_embed).
  NaflexBicubic,
  NaflexBilinear,
};

// Tensors of the checkpoint the encoder does not use, with the reason (the classifier head, a
// text tower, ...: family_tensor_rules.cpp); `info` lists them.
struct UnusedTensors {
  std::string reason;
  std::vector<std::string> names;
};

// What one ViT encoder is: the family it was read as, its sizes, and every switch in which the
// families differ. The block math (transformer_block.cpp) reads only these.
struct TransformerConfig {
  std::string family;  // e.g. "timm ViT", "timm DINOv2 (4 registers)", "HF ViTModel", "OpenAI CLIP"
  int embedDim = 0, depth = 0, numHeads = 0, mlpDim = 0;
  std::string headsSource;  // "config.json num_attention_heads", "GGUF metadata", "--heads", ...
  bool headsGuessed = false;
  bool classToken = false, distillationToken = false;
  int registerTokens = 0;

  float layerNormEps = 1e-6f;
  Activation activation = Activation::Gelu;
  bool preNorm = false;     // a LayerNorm before the first block (CLIP ln_pre, timm norm_pre)
  bool layerScale = false;  // ls1/ls2 (DINOv2)
  bool finalNorm = true;    // the final LayerNorm (norm, layernorm, ln_post, post_layernorm)
  bool postNorm = false;    // blocks x + norm(branch(x)) (timm eva.py EvaBlockPostNorm)
  // How many of the prefix tokens (in token order) have a row in the position table; the
  // table is [positionPrefixRows + N x D]. timm's no_embed_class is positionPrefixRows = 0.
  int positionPrefixRows = 0;
  bool hasPositionEmbedding = true;
  PositionResample resample = PositionResample::None;
  // The grid the position table was trained for; 0 x 0 when the table's patch count is not a
  // square and no config.json names the image size: then only an input with exactly that many
  // patches runs, on its own grid (any factorisation would be a guess).
  int nativeGridRows = 0, nativeGridCols = 0;
  std::string nativeGridSource;  // "config.json model_args.img_size", "a square table", ...
  // Another prefix-row count the family's code allows for this table (timm's no_embed_class
  // when no config.json says): its patch count is not a square, so it fits only an input with
  // exactly that many patches; such an input is refused as ambiguous. -1: none.
  int alternativePositionPrefixRows = -1;
  int patchSize = 0, inChannels = 0;
  // BEiT's relative position bias ("per block, 14x14 grid (other grids refused)"): added to the
  // attention logits (position/relative_position_bias.h); empty for every other family.
  std::string relativePositionBias;
  std::vector<UnusedTensors> unusedTensors;  // grouped by reason

  int headDim() const { return numHeads > 0 ? embedDim / numHeads : 0; }
  int prefixTokens() const {  // cls + dist + registers
    return (classToken ? 1 : 0) + (distillationToken ? 1 : 0) + registerTokens;
  }
  std::vector<std::string> prefixTokenNames() const {  // {"cls", "dist", "reg 1", ...}
    std::vector<std::string> names;
    if (classToken) names.emplace_back("cls");
    if (distillationToken) names.emplace_back("dist");
    for (int i = 1; i <= registerTokens; ++i) names.push_back("reg " + std::to_string(i));
    return names;
  }
};

const char* activationName(Activation activation);

}  // namespace patchlens
