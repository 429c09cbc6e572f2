#include "core/model/families/naflex_reader.h"

#include <algorithm>
#include <optional>

#include "core/io/error.h"
#include "core/model/families/family_tensors.h"
#include "core/model/families/timm_config.h"
#include "core/model/family_tensor_rules.h"
#include "core/weights/config_values.h"
#include "core/weights/shape_text.h"

namespace patchlens {
namespace {

using Shape = FamilyTensors::Shape;
using Json = nlohmann::json;

// The NaFlexVitCfg fields that change the numbers but leave no trace in the tensor names: first
// as the registered architecture sets them (naflexvit.py), then as config.json model_args
// overrides them.
struct NaflexArguments {
  std::string refusal;  // non-empty: a variant PatchLens does not run exactly
  int heads = 0;
  std::string headsSource;
  bool geluTanh = false;     // act_layer 'gelu_tanh' (the SigLIP variants); else nn.GELU
  bool bilinear = false;     // pos_embed_interp_mode 'bilinear'; timm's default 'bicubic'
  bool channelsLast = true;  // patchify_channels_last: (ph, pw, c), else (c, ph, pw)
  int patchSize = 16, inChannels = 3;
  std::string label;  // "SigLIP 2 NaFlex" for the siglip architectures
};

std::optional<NaflexArguments> registeredArguments(const std::string& arch) {
  NaflexArguments a;
  if (arch == "naflexvit_base_patch16_siglip") {
    a.heads = 12;
    a.geluTanh = true;
    a.label = "SigLIP 2 NaFlex";
  } else if (arch == "naflexvit_so400m_patch16_siglip") {
    a.heads = 16;
    a.geluTanh = true;
    a.label = "SigLIP 2 NaFlex";
  } else if (arch == "naflexvit_base_patch16_gap" || arch == "naflexvit_base_patch16_map") {
    a.heads = 12;
  } else if (arch == "naflexvit_so150m2_patch16_reg1_gap" ||
             arch == "naflexvit_so150m2_patch16_reg1_map") {
    a.heads = 13;
  } else if (arch == "naflexvit_base_patch16_par_gap" ||
             arch == "naflexvit_base_patch16_parfac_gap") {
    a.heads = 12;
    a.refusal =
        "its position grid is resized aspect-preserving (pos_embed_ar_preserving), which "
        "PatchLens does not run";
  } else {
    return std::nullopt;
  }
  a.headsSource = "the registered architecture " + arch;
  return a;
}

bool isTrue(const Json& v, const std::string& what) {
  if (!v.is_boolean()) throw ConfigValueError(what + " is not true or false");
  return v.get<bool>();
}

// model_args over the registered arguments. Every key is one PatchLens reads, one whose effect the
// tensors show (and the reader follows), or one with no effect on one unpadded image at
// inference; any other, or a value PatchLens does not run, is refused by name.
void applyModelArgs(const Json& args, NaflexArguments& a, const std::string& file) {
  static const char* const kShownByTensors[] = {
      "embed_dim", "depth", "mlp_ratio", "qkv_bias", "proj_bias", "init_values", "class_token",
      "reg_tokens", "global_pool", "fc_norm", "final_norm", "num_classes", "pre_norm",
      "attn_pool_num_heads", "attn_pool_mlp_ratio", "pos_embed_grid_size", "img_size",
      "pool_include_prefix",
      // training only, or no effect on one image whose patches fill the sequence
      "drop_rate", "pos_drop_rate", "patch_drop_rate", "proj_drop_rate", "attn_drop_rate",
      "drop_path_rate", "weight_init", "fix_init", "use_key_only_attn_mask",
      "enable_patch_interpolator"};
  // Options whose default (false / null / 'standard' / 'linear' / 'learned') is the only value run.
  static const char* const kOffOnly[] = {
      "qk_norm",    "scale_mlp_norm",          "scale_attn_inner_norm",     "attn_gated",
      "swiglu_mlp", "pos_embed_ar_preserving", "pos_embed_use_grid_sample", "dynamic_img_pad"};
  static const char* const kNullOnly[] = {"norm_layer", "embed_norm_layer", "input_norm_layer",
                                          "block_fn",   "mlp_layer",        "attn_layer",
                                          "rope_type"};
  try {
    for (auto it = args.begin(); it != args.end(); ++it) {
      const std::string& key = it.key();
      const Json& v = it.value();
      const std::string what = "model_args." + key;
      const auto is = [&](const char* k) { return key == k; };
      if (key == "num_heads") {
        a.heads = static_cast<int>(exactInteger(v, 1, kMaxHeads, what));
        a.headsSource = "config.json model_args.num_heads";
      } else if (key == "patch_size") {
        if (v.is_array() && v.size() == 2 && v[0] != v[1])
          throw ConfigValueError(what + " is not square, which PatchLens does not run");
        a.patchSize = static_cast<int>(
            exactInteger(v.is_array() && v.size() == 2 ? v[0] : v, 1, kMaxImageSide, what));
      } else if (key == "in_chans") {
        a.inChannels = static_cast<int>(exactInteger(v, 1, 4096, what));
      } else if (key == "act_layer") {
        if (v.is_null()) {
          a.geluTanh = false;
        } else if (v == "gelu_tanh" || v == "gelu") {
          a.geluTanh = v == "gelu_tanh";
        } else {
          throw ConfigValueError(what + " " + v.dump() +
                                 " is not run by PatchLens (only 'gelu' and 'gelu_tanh')");
        }
      } else if (key == "pos_embed_interp_mode") {
        if (v != "bicubic" && v != "bilinear")
          throw ConfigValueError(what + " " + v.dump() +
                                 " is not run by PatchLens (only 'bicubic' and 'bilinear')");
        a.bilinear = v == "bilinear";
      } else if (key == "patchify_channels_last") {
        a.channelsLast = isTrue(v, what);
      } else if (key == "pos_embed") {
        if (v != "learned")
          throw ConfigValueError(what + " " + v.dump() +
                                 " is not run by PatchLens (only the learned grid)");
      } else if (key == "embed_proj_type") {
        if (v != "linear")
          throw ConfigValueError(what + " " + v.dump() +
                                 " is not run by PatchLens (only the Linear patch embedding)");
      } else if (key == "attn_type") {
        if (v != "standard")
          throw ConfigValueError(what + " " + v.dump() + " is not run by PatchLens");
      } else if (key == "qkv_fused") {
        if (!isTrue(v, what)) throw ConfigValueError(what + " false is not run by PatchLens");
      } else if (std::any_of(std::begin(kOffOnly), std::end(kOffOnly), is)) {
        if (isTrue(v, what)) throw ConfigValueError(what + " is not run by PatchLens");
      } else if (std::any_of(std::begin(kNullOnly), std::end(kNullOnly), is)) {
        if (!v.is_null() && !(v.is_string() && (v == "" || v == "none")))
          throw ConfigValueError(what + " " + v.dump() + " is not run by PatchLens");
      } else if (std::none_of(std::begin(kShownByTensors), std::end(kShownByTensors), is)) {
        throw ConfigValueError(what + " is not an argument PatchLens reads for timm's NaFlexVit");
      }
    }
  } catch (const ConfigValueError& e) {
    throw Error(file, e.what());
  }
}

}  // namespace

bool isTimmNaflexLayout(const TensorSource& source) {
  const TensorInfo* proj = source.find("embeds.proj.weight");
  return proj != nullptr && proj->shape.size() == 2 && source.find("embeds.pos_embed") != nullptr;
}

std::shared_ptr<const TransformerWeights> readTimmNaflex(const TensorSource& source,
                                                         const std::string& path,
                                                         const TransformerLoadOptions& options) {
  const Json config = readTimmConfig(path);
  const std::string arch = config.contains("architecture") && config["architecture"].is_string()
                               ? config["architecture"].get<std::string>()
                               : std::string();
  if (arch.empty())
    throw Error(path,
                "tensor 'embeds.proj.weight' is timm's NaFlexVit patch embedding (naflexvit.py): "
                "its heads, activation and position-grid interpolation are not in the tensors; "
                "timm's config.json beside the file (architecture, model_args) is needed");
  std::optional<NaflexArguments> registered = registeredArguments(arch);
  if (!registered)
    throw Error(path, "config.json architecture '" + arch +
                          "' is no naflexvit.py architecture PatchLens knows");
  NaflexArguments a = *registered;
  if (config.contains("model_args") && config["model_args"].is_object())
    applyModelArgs(config["model_args"], a, path);
  if (!a.refusal.empty())
    throw Error(path, "config.json architecture '" + arch + "' (timm naflexvit.py): " + a.refusal);

  FamilyTensors r(source, path, "", "timm naflexvit.py layout (" + arch + ")");
  r.setShapesOnly(options.shapesOnly);
  TransformerWeights w;
  TransformerConfig& c = w.config;
  const Shape projShape = r.shape("embeds.proj.weight");
  const std::int64_t d = projShape[0];
  const std::int64_t p = a.patchSize, ch = a.inChannels;
  if (projShape[1] != p * p * ch)
    r.fail("embeds.proj.weight", "is " + shapeText(projShape) + ", but " + std::to_string(p) +
                                     "-pixel patches of " + std::to_string(ch) +
                                     " channels flatten to " + std::to_string(p * p * ch));
  c.embedDim = static_cast<int>(d);
  c.depth = r.countBlocks();
  if (c.depth == 0) r.fail("blocks.0.norm1.weight", "is missing: a NaFlexVit file with no blocks");
  c.numHeads = options.heads > 0 ? options.heads : a.heads;
  c.headsSource = options.heads > 0 ? "--heads" : a.headsSource;
  if (c.numHeads <= 0 || d % c.numHeads != 0)
    throw Error(path, "timm's NaFlexVit needs a head count dividing the width " +
                          std::to_string(d) + ": config.json model_args.num_heads or --heads N");
  c.layerNormEps = 1e-6f;  // timm.layers.LayerNorm
  c.activation = a.geluTanh ? Activation::GeluTanh : Activation::Gelu;

  // The Linear over (ph, pw, c) patches (batch_patchify channels_last) as the conv's (c, kh, kw)
  // filter rows: a permutation of the columns, exact.
  PatchWeights patch;
  patch.embedDim = static_cast<int>(d);
  patch.inChannels = static_cast<int>(ch);
  patch.patchSize = static_cast<int>(p);
  {
    const std::vector<float> linear = r.read("embeds.proj.weight", {d, p * p * ch});
    patch.weight.resize(d, p * p * ch);
    for (std::int64_t o = 0; o < d; ++o)
      for (std::int64_t kh = 0; kh < p; ++kh)
        for (std::int64_t kw = 0; kw < p; ++kw)
          for (std::int64_t k = 0; k < ch; ++k) {
            const std::int64_t from =
                a.channelsLast ? (kh * p + kw) * ch + k : (k * p + kh) * p + kw;
            patch.weight(o, (k * p + kh) * p + kw) = linear[o * p * p * ch + from];
          }
  }
  if (r.has("embeds.proj.bias")) patch.bias = r.vector("embeds.proj.bias", d);
  patch.description = "timm NaFlexViT Linear patch embedding (" + arch + ")";
  patch.file = path;
  patch.validate(path);
  c.patchSize = patch.patchSize;
  c.inChannels = patch.inChannels;
  w.patchEmbedding = std::make_shared<const PatchEmbedding>(std::move(patch));

  // Token order (NaFlexEmbeds.forward): cls, registers, then the patches.
  r.readClassAndRegisterTokens("embeds.cls_token", "embeds.reg_token", d, c, w);

  // The learned [1, gh0, gw0, D] grid: patches only (never the prefix tokens).
  const Shape ps = r.shape("embeds.pos_embed");
  if (ps.size() != 4 || ps[0] != 1 || ps[3] != d || ps[1] < 1 || ps[2] < 1)
    r.fail("embeds.pos_embed",
           "is " + shapeText(ps) + ", expected [1, H, W, " + std::to_string(d) + "]");
  {
    const std::vector<float> table = r.read("embeds.pos_embed", {ps[1], ps[2], d});
    w.positions = Eigen::Map<const RowMatrixF>(table.data(), ps[1] * ps[2], d);
  }
  c.hasPositionEmbedding = true;
  c.positionPrefixRows = 0;
  c.nativeGridRows = static_cast<int>(ps[1]);
  c.nativeGridCols = static_cast<int>(ps[2]);
  c.nativeGridSource = "embeds.pos_embed [1, H, W, D]";
  c.resample = a.bilinear ? PositionResample::NaflexBilinear : PositionResample::NaflexBicubic;

  c.preNorm = r.has("norm_pre.weight");
  if (c.preNorm) w.preNorm = r.layerNorm("norm_pre", d);
  c.finalNorm = r.has("norm.weight");
  if (c.finalNorm) w.finalNorm = r.layerNorm("norm", d);

  w.blocks.resize(static_cast<std::size_t>(c.depth));
  c.layerScale = r.has("blocks.0.ls1.gamma");
  for (int i = 0; i < c.depth; ++i) {
    r.setContext("block " + std::to_string(i + 1) + " of " + std::to_string(c.depth));
    const std::string b = "blocks." + std::to_string(i) + ".";
    TransformerBlock& blk = w.blocks[static_cast<std::size_t>(i)];
    blk.norm1 = r.layerNorm(b + "norm1", d);
    blk.qkv = r.linearWithOptionalBias(b + "attn.qkv", 3 * d, d);
    blk.proj = r.linearWithOptionalBias(b + "attn.proj", d, d);
    blk.norm2 = r.layerNorm(b + "norm2", d);
    const Shape s1 = r.shape(b + "mlp.fc1.weight");
    if (s1.size() != 2 || s1[1] != d)
      r.fail(b + "mlp.fc1.weight",
             "is " + shapeText(s1) + ", expected [M, " + std::to_string(d) + "]");
    if (i == 0) c.mlpDim = static_cast<int>(s1[0]);
    if (s1[0] != c.mlpDim) r.fail(b + "mlp.fc1.weight", "has another MLP width than block 1");
    blk.fc1 = r.linearWithOptionalBias(b + "mlp.fc1", c.mlpDim, d);
    blk.fc2 = r.linearWithOptionalBias(b + "mlp.fc2", d, c.mlpDim);
    if (c.layerScale) {
      blk.layerScale1 = r.vector(b + "ls1.gamma", d);
      blk.layerScale2 = r.vector(b + "ls2.gamma", d);
    }
  }
  r.setContext({});

  // Known unused for the encoder's tokens: the pooled head and what only feeds it.
  std::vector<std::pair<std::string, std::string>> unused;
  for (const TensorInfo& t : source.tensors()) {
    const auto under = [&](const char* stem) { return t.name.rfind(stem, 0) == 0; };
    std::string reason;
    if (under("head.")) reason = "classifier head";
    if (under("fc_norm.")) reason = "norm of the pooled output only (global_pool='avg')";
    if (under("attn_pool.")) reason = "attention-pool (MAP) head, on the pooled output only";
    if (reason.empty()) continue;
    r.markUsed(t.name);
    unused.emplace_back(t.name, reason);
  }
  c.unusedTensors = groupUnused(unused);
  r.markUsed("embeds.proj.weight");
  if (r.has("embeds.proj.bias")) r.markUsed("embeds.proj.bias");
  r.refuseLeftovers();
  w.shapesOnly = options.shapesOnly;

  std::string traits = a.label;
  if (c.registerTokens > 0)
    traits += (traits.empty() ? "" : ", ") + std::to_string(c.registerTokens) + " registers";
  traits += (traits.empty() ? "" : ", ") + std::to_string(c.nativeGridRows) + "x" +
            std::to_string(c.nativeGridCols) + " position grid resized " +
            (a.bilinear ? "bilinear" : "bicubic");
  c.family = "timm NaFlexViT (" + traits + ")";
  return std::make_shared<const TransformerWeights>(std::move(w));
}

}  // namespace patchlens
