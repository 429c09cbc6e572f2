#include "core/model/families/eva_reader.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/io/error.h"
#include "core/model/families/family_tensors.h"
#include "core/model/families/timm_config.h"
#include "core/model/family_tensor_rules.h"
#include "core/model/position/rope_embedding.h"
#include "core/weights/config_values.h"
#include "core/weights/shape_text.h"
#include "core/weights/weight_loader.h"

namespace patchlens {
namespace {

using Shape = FamilyTensors::Shape;
using Json = nlohmann::json;

// The arguments of eva.py's Eva that change the numbers but leave no trace in the tensor names:
// first as the registered architecture sets them, then as config.json model_args overrides them.
struct EvaArguments {
  std::string label;    // "timm EVA-02", "Naver RoPE-ViT", ...
  std::string refusal;  // non-empty: a variant PatchLens does not run exactly
  int heads = 0;        // 0: unknown
  std::string headsSource;
  bool rope = false;   // use_rot_pos_emb
  bool mixed = false;  // rope_type 'mixed'
  float temperature = 10000.0f;
  bool xy = false;  // rope_grid_indexing 'xy'
  float gridOffset = 0.0f;
  int refRows = 0, refCols = 0;  // ref_feat_shape
  std::optional<bool> noEmbedClass;
  // use_post_transformer_norm: false when the architecture has no final norm (PE lang /
  // spatial), so a stored norm.* is refused rather than applied; unset: the tensors say.
  std::optional<bool> postTransformerNorm;
  bool postNorm = false;  // use_post_norm: EvaBlockPostNorm, x + norm1(attn(x)), no LayerScale
  float eps = 1e-6f;      // timm.layers.LayerNorm's default
  int imageHeight = 0, imageWidth = 0;
  std::string imageSource;
};

// The word before "_patch" ("eva02_base_patch14_448" -> "base") gives the registered head count.
int registeredHeads(const std::string& arch) {
  const std::size_t patch = arch.find("_patch");
  if (patch == std::string::npos) return 0;
  const std::size_t start = arch.rfind('_', patch - 1);
  const std::string size = arch.substr(start == std::string::npos ? 0 : start + 1,
                                       patch - (start == std::string::npos ? 0 : start + 1));
  const std::pair<const char*, int> table[] = {
      {"tiny", 3},      {"small", 6},     {"base", 12},  {"large", 16},  {"giant", 16},
      {"gigantic", 16}, {"enormous", 16}, {"medium", 8}, {"mediumd", 8}, {"betwixt", 10}};
  for (const auto& [word, heads] : table) {
    if (size == word) return heads;
  }
  return 0;
}

// The trailing "_224" of a registered name: the image size it is built with.
int registeredImageSize(const std::string& arch) {
  const std::size_t underscore = arch.rfind('_');
  if (underscore == std::string::npos || underscore + 1 >= arch.size()) return 0;
  int value = 0;
  for (std::size_t i = underscore + 1; i < arch.size(); ++i) {
    if (arch[i] < '0' || arch[i] > '9' || value > 100000) return 0;
    value = value * 10 + (arch[i] - '0');
  }
  return value;
}

// "patch14" of a registered name: its patch size.
int registeredPatchSize(const std::string& arch) {
  const std::size_t at = arch.find("_patch");
  int value = 0;
  for (std::size_t i = at == std::string::npos ? arch.size() : at + 6;
       i < arch.size() && arch[i] >= '0' && arch[i] <= '9' && value < 100000; ++i)
    value = value * 10 + (arch[i] - '0');
  return value;
}

bool contains(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

// eva.py's registered models, grouped by what their model_args set (read from eva.py).
std::optional<EvaArguments> registeredArguments(const std::string& arch) {
  EvaArguments a;
  if (arch.rfind("eva02_", 0) == 0) {
    a.label = "timm EVA-02";
    a.rope = true;  // ref_feat_shape (16, 16) for every EVA-02, 'cat', temperature 10000, 'ij'
    a.refRows = a.refCols = 16;
    if (contains(arch, "enormous")) {  // use_post_norm=True, no RoPE (use_rot_pos_emb default)
      a.rope = false;
      a.postNorm = true;
    }
  } else if (arch.rfind("eva_giant", 0) == 0) {
    a.label = "timm EVA";
  } else if (arch.rfind("vit_pe_core_", 0) == 0) {
    // Perception Encoder core: ref_feat_shape = the registered grid (384/16, 224/16, 336/14,
    // 448/14), offset 1 except gigantic, 'xy', LayerNorm(eps=1e-5), norm_pre, MAP pool.
    a.label = "Meta Perception Encoder core (timm)";
    a.rope = true;
    a.xy = true;
    a.gridOffset = contains(arch, "gigantic") ? 0.0f : 1.0f;
    const int patch = registeredPatchSize(arch);
    a.refRows = a.refCols = patch > 0 ? registeredImageSize(arch) / patch : 0;
    a.eps = 1e-5f;
  } else if (arch.rfind("vit_pe_lang_", 0) == 0 || arch.rfind("vit_pe_spatial_", 0) == 0) {
    // Perception Encoder lang / spatial: PE core's blocks and RoPE without the final norm
    // (use_post_transformer_norm=False, use_fc_norm=False) or MAP pool; ref_feat_shape (32, 32)
    // for every size, offset 1 except gigantic (the default 0), 'xy', LayerNorm(eps=1e-5).
    a.label = contains(arch, "_lang_") ? "Meta Perception Encoder lang (timm)"
                                       : "Meta Perception Encoder spatial (timm)";
    a.rope = true;
    a.xy = true;
    a.gridOffset = contains(arch, "gigantic") ? 0.0f : 1.0f;
    a.refRows = a.refCols = 32;
    a.eps = 1e-5f;
    a.postTransformerNorm = false;
  } else if (arch.rfind("vit_pe_", 0) == 0) {
    a.label = "Meta Perception Encoder (timm)";
    a.refusal =
        "only Meta's Perception Encoder core, lang and spatial (vit_pe_{core,lang,spatial}_*) are "
        "run by PatchLens";
  } else if (arch.rfind("vit_", 0) == 0 && contains(arch, "_rope_reg")) {
    a.label = "timm RoPE ViT";
    a.rope = true;
    a.refRows = a.refCols = 16;
  } else if (arch.rfind("vit_", 0) == 0 && contains(arch, "_patch16_rope_")) {
    a.label = "Naver RoPE-ViT";  // axial: temperature 100; mixed: learned rope.freqs
    a.rope = true;
    a.xy = true;
    a.mixed = contains(arch, "_rope_mixed");
    a.temperature = a.mixed ? 10.0f : 100.0f;
    if (contains(arch, "_ape")) a.noEmbedClass = true;
  } else {
    return std::nullopt;
  }
  a.heads = registeredHeads(arch);
  a.headsSource = "the registered architecture " + arch;
  a.imageHeight = a.imageWidth = registeredImageSize(arch);
  a.imageSource = "the registered architecture " + arch;
  return a;
}

std::string architectureOf(const Json& config) {
  return config.contains("architecture") && config["architecture"].is_string()
             ? config["architecture"].get<std::string>()
             : std::string();
}

// An int or [H, W] (timm to_2tuple).
bool readPair(const Json& j, int& first, int& second, const std::string& what) {
  if (j.is_array() && j.size() == 2) {
    first = static_cast<int>(exactInteger(j[0], 1, kMaxImageSide, what));
    second = static_cast<int>(exactInteger(j[1], 1, kMaxImageSide, what));
    return true;
  }
  first = second = static_cast<int>(exactInteger(j, 1, kMaxImageSide, what));
  return true;
}

// model_args over the registered arguments. Every key is one PatchLens reads, one whose effect
// the tensors show (and the reader follows), or one with no effect at inference; any other is
// refused by name.
void applyModelArgs(const Json& args, EvaArguments& a, const std::string& file) {
  static const char* const kShownByTensors[] = {
      "patch_size", "in_chans", "num_classes", "global_pool", "embed_dim", "depth", "qkv_bias",
      "qkv_fused", "mlp_ratio", "swiglu_mlp", "swiglu_align_to", "scale_mlp", "scale_attn_inner",
      "init_values", "class_token", "num_reg_tokens", "use_abs_pos_emb", "use_pre_transformer_norm",
      "use_fc_norm", "attn_pool_num_heads", "attn_pool_mlp_ratio", "head_init_scale",
      // training only, or no effect on the numbers of one image
      "drop_rate", "pos_drop_rate", "patch_drop_rate", "proj_drop_rate", "attn_drop_rate",
      "drop_path_rate", "dynamic_img_size", "dynamic_img_pad", "attn_type"};
  try {
    for (auto it = args.begin(); it != args.end(); ++it) {
      const std::string& key = it.key();
      const Json& v = it.value();
      const std::string what = "model_args." + key;
      if (key == "num_heads") {
        a.heads = static_cast<int>(exactInteger(v, 1, kMaxHeads, what));
        a.headsSource = "config.json model_args.num_heads";
      } else if (key == "img_size") {
        readPair(v, a.imageHeight, a.imageWidth, what);
        a.imageSource = "config.json model_args.img_size";
      } else if (key == "ref_feat_shape") {
        if (v.is_null()) {
          a.refRows = a.refCols = 0;
        } else {
          readPair(v, a.refRows, a.refCols, what);
        }
      } else if (key == "rope_temperature") {
        a.temperature = static_cast<float>(finiteInRange(v, 1e-6, 1e12, what));
      } else if (key == "rope_grid_offset") {
        a.gridOffset = static_cast<float>(finiteInRange(v, -1e6, 1e6, what));
      } else if (key == "rope_grid_indexing") {
        if (!v.is_string() || (v != "ij" && v != "xy"))
          throw ConfigValueError(what + " is neither 'ij' nor 'xy'");
        a.xy = v == "xy";
      } else if (key == "use_post_transformer_norm") {
        if (!v.is_null() && !v.is_boolean()) throw ConfigValueError(what + " is not true or false");
        a.postTransformerNorm =
            v.is_null() ? std::optional<bool>() : std::optional<bool>(v.get<bool>());
      } else if (key == "rope_type") {
        if (!v.is_string() || (v != "cat" && v != "mixed"))
          throw ConfigValueError(what + " " + v.dump() +
                                 " is not run by PatchLens (only 'cat' and 'mixed')");
        a.mixed = v == "mixed";
      } else if (key == "use_rot_pos_emb" || key == "no_embed_class" || key == "use_post_norm" ||
                 key == "rope_rotate_half" || key == "gated_attn") {
        if (!v.is_boolean()) throw ConfigValueError(what + " is not true or false");
        const bool on = v.get<bool>();
        if (key == "use_rot_pos_emb") a.rope = on;
        if (key == "no_embed_class") a.noEmbedClass = on;
        if (key == "use_post_norm") a.postNorm = on;
        if (on && key == "rope_rotate_half")
          a.refusal = "model_args.rope_rotate_half with timm's 'cat' RoPE is not run by PatchLens";
        if (on && key == "gated_attn")
          a.refusal = "gated attention (model_args.gated_attn) is not run by PatchLens";
      } else if (std::none_of(std::begin(kShownByTensors), std::end(kShownByTensors),
                              [&](const char* k) { return key == k; })) {
        throw ConfigValueError(what + " is not an argument PatchLens reads for timm's Eva");
      }
    }
  } catch (const ConfigValueError& e) {
    throw Error(file, e.what());
  }
}

// q, k, v into the fused [3D x D] layout: EvaAttention's qkv + q_bias / v_bias (k bias fixed at
// 0), AttentionRope's qkv + qkv.bias, or separate q_proj / k_proj / v_proj (EVA-02 B/L; no k bias
// in EvaAttention).
LinearLayer readQkv(FamilyTensors& r, const std::string& p, std::int64_t d) {
  RowMatrixF weight;
  VectorF bias = VectorF::Zero(3 * d);
  if (r.has(p + "attn.qkv.weight")) {
    weight = r.matrix(p + "attn.qkv.weight", 3 * d, d);
    if (r.has(p + "attn.qkv.bias")) {
      bias = r.vector(p + "attn.qkv.bias", 3 * d);
    } else if (r.has(p + "attn.q_bias") || r.has(p + "attn.v_bias")) {
      bias.head(d) = r.vector(p + "attn.q_bias", d);
      bias.tail(d) = r.vector(p + "attn.v_bias", d);
    }
    return r.linear(weight, bias, 3 * d, d);
  }
  static const char* const kNames[3] = {"attn.q_proj", "attn.k_proj", "attn.v_proj"};
  if (!r.shapesOnly()) weight.resize(3 * d, d);
  for (int i = 0; i < 3; ++i) {
    const std::string stem = p + kNames[i];
    const RowMatrixF part = r.matrix(stem + ".weight", d, d);  // empty in shapes-only mode
    if (!r.shapesOnly()) weight.middleRows(i * d, d) = part;
    if (r.has(stem + ".bias")) bias.segment(i * d, d) = r.vector(stem + ".bias", d);
  }
  return r.linear(weight, bias, 3 * d, d);
}

// The MLP: timm SwiGLU (fc1_g silu-gated, fc1_x linear), GluMlp's packed fc1 [2M, D] (gate_last
// False: silu of the first half times the second), or Mlp (GELU); mlp.norm the sub-LN on [M].
// Returns whether it is gated.
bool readMlp(FamilyTensors& r, TransformerBlock& blk, const std::string& p, std::int64_t d,
             std::int64_t& hidden) {
  bool gated = true;
  if (r.has(p + "mlp.fc1_g.weight")) {
    const Shape s = r.shape(p + "mlp.fc1_g.weight");
    if (s.size() != 2) r.fail(p + "mlp.fc1_g.weight", "is " + shapeText(s) + ", expected [M, D]");
    hidden = s[0];
    blk.fc1 = r.linearWithOptionalBias(p + "mlp.fc1_g", hidden, d);
    blk.fc1Gate = r.linearWithOptionalBias(p + "mlp.fc1_x", hidden, d);
  } else {
    const Shape s1 = r.shape(p + "mlp.fc1.weight"), s2 = r.shape(p + "mlp.fc2.weight");
    if (s1.size() != 2 || s2.size() != 2 || s1[1] != d || s2[0] != d ||
        (s1[0] != s2[1] && s1[0] != 2 * s2[1]))
      r.fail(p + "mlp.fc1.weight", "is " + shapeText(s1) + " beside mlp.fc2.weight " +
                                       shapeText(s2) + ": neither an MLP nor a packed SwiGLU");
    hidden = s2[1];
    gated = s1[0] == 2 * hidden;
    const RowMatrixF w = r.matrix(p + "mlp.fc1.weight", s1[0], d);
    const VectorF b = r.has(p + "mlp.fc1.bias") ? r.vector(p + "mlp.fc1.bias", s1[0])
                                                : VectorF(VectorF::Zero(s1[0]));
    if (r.shapesOnly()) {
      blk.fc1 = LinearLayer::shapeOnly(static_cast<int>(hidden), static_cast<int>(d));
      if (gated)
        blk.fc1Gate = LinearLayer::shapeOnly(static_cast<int>(hidden), static_cast<int>(d));
    } else if (gated) {  // GluMlp(gate_last=False): act(x1) * x2, x1 the first half of fc1's rows
      blk.fc1 = LinearLayer(w.topRows(hidden), b.head(hidden));
      blk.fc1Gate = LinearLayer(w.bottomRows(hidden), b.tail(hidden));
    } else {
      blk.fc1 = LinearLayer(w, b);
    }
  }
  blk.fc2 = r.linearWithOptionalBias(p + "mlp.fc2", d, hidden);
  if (r.has(p + "mlp.norm.weight")) blk.mlpNorm = r.layerNorm(p + "mlp.norm", hidden);
  return gated;
}

}  // namespace

bool isTimmEvaArchitecture(const std::string& path) {
  const std::string arch = architectureOf(readTimmConfig(path));
  return !arch.empty() && registeredArguments(arch).has_value();
}

std::shared_ptr<const TransformerWeights> readEva(const TensorSource& source,
                                                  const std::string& path,
                                                  const std::string& prefix,
                                                  const TransformerLoadOptions& options) {
  const Json config = readTimmConfig(path);
  const std::string arch = architectureOf(config);
  std::optional<EvaArguments> registered = registeredArguments(arch);
  if (!registered) throw Error(path, "config.json names no eva.py architecture PatchLens knows");
  EvaArguments a = *registered;
  if (config.contains("model_args") && config["model_args"].is_object())
    applyModelArgs(config["model_args"], a, path);
  if (!a.refusal.empty())
    throw Error(path, "config.json architecture '" + arch + "' (timm eva.py): " + a.refusal);
  // timm builds the model at pretrained_cfg.input_size unless model_args name img_size.
  if (a.imageSource.rfind("config.json", 0) != 0 && config.contains("pretrained_cfg") &&
      config["pretrained_cfg"].is_object() && config["pretrained_cfg"].contains("input_size")) {
    const Json& size = config["pretrained_cfg"]["input_size"];
    try {
      if (!size.is_array() || size.size() != 3)
        throw ConfigValueError("pretrained_cfg.input_size is not [C, H, W]");
      a.imageHeight =
          static_cast<int>(exactInteger(size[1], 1, kMaxImageSide, "pretrained_cfg.input_size"));
      a.imageWidth =
          static_cast<int>(exactInteger(size[2], 1, kMaxImageSide, "pretrained_cfg.input_size"));
    } catch (const ConfigValueError& e) {
      throw Error(path, e.what());
    }
    a.imageSource = "config.json pretrained_cfg.input_size";
  }

  FamilyTensors r(source, path, prefix, "timm eva.py layout (" + arch + ")");
  r.setShapesOnly(options.shapesOnly);
  TransformerWeights w;
  TransformerConfig& c = w.config;
  const std::int64_t d = r.readWidthAndDepth(c, "an Eva file");
  c.numHeads = options.heads > 0 ? options.heads : a.heads;
  c.headsSource = options.heads > 0 ? "--heads" : a.headsSource;
  if (c.numHeads <= 0 || d % c.numHeads != 0 || (a.rope && (d / c.numHeads) % 4 != 0))
    throw Error(path,
                "timm's Eva needs its head count (RoPE and attention depend on it): "
                "config.json model_args.num_heads or --heads N dividing the width " +
                    std::to_string(d) + (a.rope ? " into head dims divisible by 4" : ""));
  c.layerNormEps = a.eps;

  // Token order (Eva._pos_embed): cls, registers, then the patches.
  r.readClassAndRegisterTokens("cls_token", "reg_token", d, c, w);

  // Learned absolute positions: every prefix token has a row unless no_embed_class.
  c.hasPositionEmbedding = r.has("pos_embed");
  if (c.hasPositionEmbedding) {
    c.positionPrefixRows = a.noEmbedClass.value_or(false) ? 0 : c.prefixTokens();
    const Shape s = r.shape("pos_embed");
    const std::int64_t rows = s.size() == 3 ? s[1] : -1;
    const std::vector<float> table = r.read("pos_embed", {rows, d});
    const std::int64_t patches = rows - c.positionPrefixRows;
    w.positions = Eigen::Map<const RowMatrixF>(table.data(), rows, d);
    const std::int64_t p = r.shape("patch_embed.proj.weight")[2];  // [D, C, P, P]
    const std::int64_t gh = a.imageHeight / p, gw = a.imageWidth / p;
    if (gh <= 0 || gw <= 0 || gh * gw != patches)
      r.fail("pos_embed", "has " + std::to_string(rows) + " rows (" +
                              std::to_string(c.positionPrefixRows) + " prefix rows + " +
                              std::to_string(patches) + " patches), but " + a.imageSource + " " +
                              std::to_string(a.imageHeight) + "x" + std::to_string(a.imageWidth) +
                              " gives a " + std::to_string(gh) + " x " + std::to_string(gw) +
                              " grid of " + std::to_string(p) + "-pixel patches");
    c.nativeGridRows = static_cast<int>(gh);
    c.nativeGridCols = static_cast<int>(gw);
    c.nativeGridSource = a.imageSource;
    c.resample = PositionResample::TimmBicubic;  // resample_abs_pos_embed (dynamic_img_size)
  }
  c.preNorm = r.has("norm_pre.weight");
  if (c.preNorm) w.preNorm = r.layerNorm("norm_pre", d);
  // global_pool 'avg': norm is Identity, fc_norm pools. use_post_transformer_norm False (PE lang /
  // spatial): no final norm, whatever the file holds (a stored norm.* is left over, refused).
  c.finalNorm = a.postTransformerNorm.value_or(r.has("norm.weight"));
  if (c.finalNorm) w.finalNorm = r.layerNorm("norm", d);

  std::optional<bool> gatedMlp;
  bool subNorms = false;
  w.blocks.resize(static_cast<std::size_t>(c.depth));
  // EvaBlockPostNorm has no LayerScale (init_values ignored): a stored gamma_1 is left over.
  c.postNorm = a.postNorm;
  c.layerScale = !c.postNorm && r.has("blocks.0.gamma_1");
  for (int i = 0; i < c.depth; ++i) {
    r.setContext("block " + std::to_string(i + 1) + " of " + std::to_string(c.depth));
    const std::string p = "blocks." + std::to_string(i) + ".";
    TransformerBlock& blk = w.blocks[static_cast<std::size_t>(i)];
    blk.norm1 = r.layerNorm(p + "norm1", d);
    blk.qkv = readQkv(r, p, d);
    if (r.has(p + "attn.norm.weight")) blk.attnNorm = r.layerNorm(p + "attn.norm", d);
    blk.proj = r.linearWithOptionalBias(p + "attn.proj", d, d);
    blk.norm2 = r.layerNorm(p + "norm2", d);
    std::int64_t hidden = 0;
    const bool gated = readMlp(r, blk, p, d, hidden);
    if (gatedMlp && *gatedMlp != gated) r.fail(p + "mlp.fc1.weight", "differs from block 1's MLP");
    gatedMlp = gated;
    if (i == 0) c.mlpDim = static_cast<int>(hidden);
    if (hidden != c.mlpDim) r.fail(p + "mlp.fc2.weight", "has another MLP width than block 1");
    if (c.layerScale) {
      blk.layerScale1 = r.vector(p + "gamma_1", d);
      blk.layerScale2 = r.vector(p + "gamma_2", d);
    }
    subNorms = subNorms || blk.attnNorm.weight.size() > 0 || blk.mlpNorm.weight.size() > 0;
  }
  r.setContext({});
  c.activation = gatedMlp.value_or(false) ? Activation::SwiGlu : Activation::Gelu;

  if (a.rope) {
    auto rope = std::make_shared<RopeEmbedding>();
    rope->coordinates = RopeEmbedding::Coordinates::TimmGrid;
    rope->pairs = RopeEmbedding::Pairs::Interleaved;  // apply_rot_embed_cat(half=False)
    rope->columnsFirst = a.xy;
    rope->prefixTokens = c.prefixTokens();
    const int headDim = c.headDim();
    if (a.mixed) {
      // RotaryEmbeddingMixed: rope.freqs [2, depth, heads, head dim / 2], learned.
      rope->mixedFrequencies = r.read("rope.freqs", {2, c.depth, c.numHeads, headDim / 2});
      rope->mixedDepth = c.depth;
      rope->mixedHeads = c.numHeads;
    } else {
      // RotaryEmbeddingCat(in_pixels=False): freq_bands(head dim / 4, temperature, step=1) in
      // float32: 1 / temperature^(k / (head dim / 4)).
      const int quarter = headDim / 4;
      for (int k = 0; k < quarter; ++k) {
        const float exponent = static_cast<float>(k) / static_cast<float>(quarter);
        rope->bands.push_back(1.0f / std::pow(a.temperature, exponent));
      }
      rope->gridOffset = a.gridOffset;
      rope->refRows = a.refRows;
      rope->refCols = a.refCols;
    }
    w.rope = std::move(rope);
  }

  // Known unused at inference: the classifier and what only feeds it, MIM pre-training heads.
  std::vector<std::pair<std::string, std::string>> unused;
  for (const TensorInfo& t : source.tensors()) {
    if (t.name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string name = t.name.substr(prefix.size());
    const auto under = [&](const char* stem) { return name.rfind(stem, 0) == 0; };
    std::string reason;
    if (under("head.")) reason = "classifier head";
    if (under("fc_norm.")) reason = "norm of the pooled output only (global_pool='avg')";
    if (under("attn_pool.")) reason = "attention-pool (MAP) head, on the pooled output only";
    if (name == "mask_token" || under("lm_head."))
      reason = "masked-image pre-training only, not in the forward";
    if (reason.empty()) continue;
    r.markUsed(name);
    unused.emplace_back(t.name, reason);
  }
  c.unusedTensors = groupUnused(unused);

  r.finishWithPatchEmbedding(w, options.patch);
  std::string traits = a.rope ? (a.mixed ? "RoPE-Mixed" : "RoPE") : "absolute positions";
  if (c.hasPositionEmbedding && a.rope) traits += " + absolute positions";
  if (c.registerTokens > 0) traits += ", " + std::to_string(c.registerTokens) + " registers";
  if (c.activation == Activation::SwiGlu) traits += ", SwiGLU";
  if (subNorms) traits += ", sub-LN";
  if (c.postNorm) traits += ", post-norm";
  c.family = a.label + " (" + traits + ")";
  return std::make_shared<const TransformerWeights>(std::move(w));
}

}  // namespace patchlens
