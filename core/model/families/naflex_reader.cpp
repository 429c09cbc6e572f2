#include "core/model/families/naflex_reader.h"

#include <algorithm>
#include <cmath>
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

TransformerWeights readNaflexEncoder(const TensorSource& source, const std::string& path,
                                     const NaflexLayout& l, const NaflexRun& run,
                                     const TransformerLoadOptions& options) {
  FamilyTensors r(source, path, l.prefix, l.layout);
  r.setShapesOnly(options.shapesOnly);
  TransformerWeights w;
  TransformerConfig& c = w.config;
  const Shape projShape = r.shape(l.patchWeight);
  const std::int64_t p = run.patchSize, ch = run.inChannels;
  if (projShape.size() != 2 || projShape[1] != p * p * ch)
    r.fail(l.patchWeight, "is " + shapeText(projShape) + ", but " + std::to_string(p) +
                              "-pixel patches of " + std::to_string(ch) + " channels flatten to " +
                              std::to_string(p * p * ch));
  const std::int64_t d = projShape[0];
  c.embedDim = static_cast<int>(d);
  c.depth = r.countBlocks(l.blocks);
  if (c.depth == 0)
    r.fail(l.blocks + "0." + l.norm1 + ".weight", "is missing: a NaFlex encoder with no blocks");
  c.numHeads = run.heads;
  c.headsSource = run.headsSource;
  if (c.numHeads <= 0 || d % c.numHeads != 0)
    throw Error(path, "the NaFlex encoder needs a head count dividing the width " +
                          std::to_string(d) + " (" + c.headsSource + " gives " +
                          std::to_string(c.numHeads) + ")");
  c.layerNormEps = run.layerNormEps;
  c.activation = run.activation;
  const auto optionalBias = [&](const std::string& stem, std::int64_t rows) {
    return l.biasesRequired || r.has(stem + ".bias") ? r.vector(stem + ".bias", rows)
                                                     : VectorF(VectorF::Zero(rows));
  };

  // The Linear over (ph, pw, c) patches (timm's batch_patchify channels_last, HF's
  // convert_image_to_patches) as the conv's (c, kh, kw) filter rows: a permutation, exact.
  PatchWeights patch;
  patch.embedDim = static_cast<int>(d);
  patch.inChannels = static_cast<int>(ch);
  patch.patchSize = static_cast<int>(p);
  {
    const std::vector<float> linear = r.read(l.patchWeight, {d, p * p * ch});
    patch.weight.resize(d, p * p * ch);
    for (std::int64_t o = 0; o < d; ++o)
      for (std::int64_t kh = 0; kh < p; ++kh)
        for (std::int64_t kw = 0; kw < p; ++kw)
          for (std::int64_t k = 0; k < ch; ++k) {
            const std::int64_t from =
                l.channelsLast ? (kh * p + kw) * ch + k : (k * p + kh) * p + kw;
            patch.weight(o, (k * p + kh) * p + kw) = linear[o * p * p * ch + from];
          }
  }
  if (l.biasesRequired || r.has(l.patchBias)) patch.bias = r.vector(l.patchBias, d);
  patch.description = run.patchDescription;
  patch.file = path;
  patch.validate(path);
  c.patchSize = patch.patchSize;
  c.inChannels = patch.inChannels;
  w.patchEmbedding = std::make_shared<const PatchEmbedding>(std::move(patch));

  // Token order (NaFlexEmbeds.forward): cls, registers, then the patches.
  if (!l.classToken.empty()) r.readClassAndRegisterTokens(l.classToken, l.registerTokens, d, c, w);

  // The learned grid: patches only (never the prefix tokens).
  const Shape ps = r.shape(l.positions);
  std::int64_t gh = 0, gw = 0;
  if (l.squarePositionRows) {
    if (ps.size() != 2 || ps[1] != d)
      r.fail(l.positions, "is " + shapeText(ps) + ", expected [S*S, " + std::to_string(d) + "]");
    const auto side = static_cast<std::int64_t>(std::llround(std::sqrt(double(ps[0]))));
    if (side < 1 || side * side != ps[0])
      r.fail(l.positions, "has " + std::to_string(ps[0]) +
                              " rows, no square grid (Siglip2VisionEmbeddings reshapes it to "
                              "(S, S, D))");
    gh = gw = side;
  } else {
    if (ps.size() != 4 || ps[0] != 1 || ps[3] != d || ps[1] < 1 || ps[2] < 1)
      r.fail(l.positions,
             "is " + shapeText(ps) + ", expected [1, H, W, " + std::to_string(d) + "]");
    gh = ps[1];
    gw = ps[2];
  }
  {
    const std::vector<float> table =
        r.read(l.positions, l.squarePositionRows ? Shape{gh * gw, d} : Shape{gh, gw, d});
    w.positions = Eigen::Map<const RowMatrixF>(table.data(), gh * gw, d);
  }
  c.hasPositionEmbedding = true;
  c.positionPrefixRows = 0;
  c.nativeGridRows = static_cast<int>(gh);
  c.nativeGridCols = static_cast<int>(gw);
  c.nativeGridSource =
      l.prefix + l.positions + (l.squarePositionRows ? " [S*S, D]" : " [1, H, W, D]");
  c.resample = run.bilinear ? PositionResample::NaflexBilinear : PositionResample::NaflexBicubic;

  c.preNorm = !l.preNorm.empty() && r.has(l.preNorm + ".weight");
  if (c.preNorm) w.preNorm = r.layerNorm(l.preNorm, d);
  c.finalNorm = l.finalNormRequired || r.has(l.finalNorm + ".weight");
  if (c.finalNorm) w.finalNorm = r.layerNorm(l.finalNorm, d);

  w.blocks.resize(static_cast<std::size_t>(c.depth));
  c.layerScale = !l.layerScale1.empty() && r.has(l.blocks + "0." + l.layerScale1);
  for (int i = 0; i < c.depth; ++i) {
    r.setContext("block " + std::to_string(i + 1) + " of " + std::to_string(c.depth));
    const std::string b = l.blocks + std::to_string(i) + ".";
    TransformerBlock& blk = w.blocks[static_cast<std::size_t>(i)];
    blk.norm1 = r.layerNorm(b + l.norm1, d);
    if (!l.qkv.empty()) {
      blk.qkv = r.linearWithOptionalBias(b + l.qkv, 3 * d, d);
    } else {
      // q, k, v apart (HF's Siglip2Attention), stacked into the fused [3D x D] layout.
      RowMatrixF qkv(r.shapesOnly() ? 0 : 3 * d, r.shapesOnly() ? 0 : d);
      VectorF qkvBias(3 * d);
      const std::string* const names[3] = {&l.q, &l.k, &l.v};
      for (int j = 0; j < 3; ++j) {
        const RowMatrixF part = r.matrix(b + *names[j] + ".weight", d, d);
        if (!r.shapesOnly()) qkv.middleRows(j * d, d) = part;
        qkvBias.segment(j * d, d) = optionalBias(b + *names[j], d);
      }
      blk.qkv = r.linear(qkv, qkvBias, 3 * d, d);
    }
    const auto layer = [&](const std::string& stem, std::int64_t out, std::int64_t in) {
      if (!l.biasesRequired) return r.linearWithOptionalBias(stem, out, in);
      const RowMatrixF weight = r.matrix(stem + ".weight", out, in);
      return r.linear(weight, r.vector(stem + ".bias", out), out, in);
    };
    blk.proj = layer(b + l.proj, d, d);
    blk.norm2 = r.layerNorm(b + l.norm2, d);
    const Shape s1 = r.shape(b + l.fc1 + ".weight");
    if (s1.size() != 2 || s1[1] != d)
      r.fail(b + l.fc1 + ".weight",
             "is " + shapeText(s1) + ", expected [M, " + std::to_string(d) + "]");
    if (i == 0) c.mlpDim = static_cast<int>(s1[0]);
    if (s1[0] != c.mlpDim) r.fail(b + l.fc1 + ".weight", "has another MLP width than block 1");
    blk.fc1 = layer(b + l.fc1, c.mlpDim, d);
    blk.fc2 = layer(b + l.fc2, d, c.mlpDim);
    if (c.layerScale) {
      blk.layerScale1 = r.vector(b + l.layerScale1, d);
      blk.layerScale2 = r.vector(b + l.layerScale2, d);
    }
  }
  r.setContext({});

  // Known unused for the encoder's tokens: the pooled head and what only feeds it.
  std::vector<std::pair<std::string, std::string>> unused;
  for (const TensorInfo& t : source.tensors()) {
    if (t.name.compare(0, l.prefix.size(), l.prefix) != 0) {
      const auto stem = std::find_if(l.unusedOutsidePrefix.begin(), l.unusedOutsidePrefix.end(),
                                     [&](const auto& s) { return t.name.rfind(s.first, 0) == 0; });
      if (stem == l.unusedOutsidePrefix.end())
        throw Error(path,
                    "tensor '" + t.name + "' is not part of the " + l.layout + " PatchLens runs");
      unused.emplace_back(t.name, stem->second);
      continue;
    }
    const std::string name = t.name.substr(l.prefix.size());
    for (const auto& [stem, reason] : l.unused) {
      if (name.rfind(stem, 0) != 0) continue;
      r.markUsed(name);
      unused.emplace_back(t.name, reason);
      break;
    }
  }
  c.unusedTensors = groupUnused(unused);
  r.markUsed(l.patchWeight);
  if (r.has(l.patchBias)) r.markUsed(l.patchBias);
  r.refuseLeftovers();
  w.shapesOnly = options.shapesOnly;
  return w;
}

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

  NaflexLayout layout;
  layout.layout = "timm naflexvit.py layout (" + arch + ")";
  layout.channelsLast = a.channelsLast;
  NaflexRun run;
  run.heads = options.heads > 0 ? options.heads : a.heads;
  run.headsSource = options.heads > 0 ? "--heads" : a.headsSource;
  run.activation = a.geluTanh ? Activation::GeluTanh : Activation::Gelu;
  run.bilinear = a.bilinear;
  run.patchSize = a.patchSize;
  run.inChannels = a.inChannels;
  run.patchDescription = "timm NaFlexViT Linear patch embedding (" + arch + ")";
  auto weights =
      std::make_shared<TransformerWeights>(readNaflexEncoder(source, path, layout, run, options));
  TransformerConfig& c = weights->config;
  std::string traits = a.label;
  if (c.registerTokens > 0)
    traits += (traits.empty() ? "" : ", ") + std::to_string(c.registerTokens) + " registers";
  traits += (traits.empty() ? "" : ", ") + std::to_string(c.nativeGridRows) + "x" +
            std::to_string(c.nativeGridCols) + " position grid resized " +
            (a.bilinear ? "bilinear" : "bicubic");
  c.family = "timm NaFlexViT (" + traits + ")";
  return weights;
}

}  // namespace patchlens
