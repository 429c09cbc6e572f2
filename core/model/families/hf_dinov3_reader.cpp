#include "core/model/families/hf_dinov3_reader.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/io/error.h"
#include "core/model/families/family_tensors.h"
#include "core/model/families/hf_config_keys.h"
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

constexpr const char* kPatchWeight = "embeddings.patch_embeddings.weight";
constexpr const char* kModelType = "dinov3_vit";

// DINOv3ViTConfig (configuration_dinov3_vit.py): its defaults stand for a key config.json does
// not have, as PretrainedConfig.from_dict builds the class with them.
struct HfDinov3Settings {
  int heads = 6;
  std::string headsSource = "DINOv3ViTConfig's default num_attention_heads";
  float eps = 1e-5f;
  float ropeTheta = 100.0f;
  std::string act = "gelu";
  bool gated = false;
  bool queryBias = true, keyBias = false, valueBias = true, projBias = true, mlpBias = true;
  // Checked against the tensors when config.json names them.
  std::optional<std::int64_t> hidden, intermediate, layers, patch, channels, registers;
};

bool boolean(const Json& v, const std::string& what) {
  if (!v.is_boolean()) throw ConfigValueError(what + " is not true or false");
  return v.get<bool>();
}

// Every key of config.json is one the reader uses, one the tensors show (checked against them),
// one with no effect on an eval forward (training only, or PretrainedConfig's bookkeeping), or it
// is refused by name: a setting PatchLens skipped could change the numbers.
HfDinov3Settings readSettings(const Json& config, const std::string& file) {
  // DINOv3ViTConfig's arguments that only matter in training (dropout, stochastic depth,
  // initialisation) or, for image_size, only in DINOv3ViTRopePositionEmbedding.__init__'s unused
  // num_patches_h/w: the forward computes the grid from the input.
  static const char* const kNoEffectInEval[] = {"attention_dropout",   "drop_path_rate",
                                                "initializer_range",   "layerscale_value",
                                                "hidden_dropout_prob", "image_size"};
  HfDinov3Settings s;
  try {
    const std::string type = stringSetting(config, "model_type");
    if (type != kModelType)
      throw ConfigValueError("model_type '" + type + "' is not '" + kModelType + "'");
    for (auto it = config.begin(); it != config.end(); ++it) {
      const std::string& key = it.key();
      const Json& v = it.value();
      const std::string what = key;
      if (key == "architectures") {
        if (!v.is_array()) throw ConfigValueError("architectures is not a list");
        for (const Json& a : v) {
          if (!a.is_string() || a.get<std::string>() != "DINOv3ViTModel")
            throw ConfigValueError("architectures names " + a.dump() +
                                   ": PatchLens runs DINOv3ViTModel only");
        }
      } else if (key == "num_attention_heads") {
        s.heads = static_cast<int>(exactInteger(v, 1, kMaxHeads, what));
        s.headsSource = "config.json num_attention_heads";
      } else if (key == "layer_norm_eps") {
        s.eps = layerNormEps(configNumber(v, what), what);
      } else if (key == "rope_theta") {
        s.ropeTheta = static_cast<float>(finiteInRange(v, 1e-6, 1e12, what));
        if (!(s.ropeTheta > 0.0f)) throw ConfigValueError(what + " is not positive");
      } else if (key == "hidden_act") {
        if (!v.is_string()) throw ConfigValueError(what + " is not a string");
        s.act = v.get<std::string>();
      } else if (key == "use_gated_mlp") {
        s.gated = boolean(v, what);
      } else if (key == "query_bias") {
        s.queryBias = boolean(v, what);
      } else if (key == "key_bias") {
        s.keyBias = boolean(v, what);
      } else if (key == "value_bias") {
        s.valueBias = boolean(v, what);
      } else if (key == "proj_bias") {
        s.projBias = boolean(v, what);
      } else if (key == "mlp_bias") {
        s.mlpBias = boolean(v, what);
      } else if (key == "hidden_size") {
        s.hidden = positiveSetting(v, what);
      } else if (key == "intermediate_size") {
        s.intermediate = positiveSetting(v, what);
      } else if (key == "num_hidden_layers") {
        s.layers = positiveSetting(v, what);
      } else if (key == "patch_size") {
        s.patch = positiveSetting(v, what);
      } else if (key == "num_channels") {
        s.channels = positiveSetting(v, what);
      } else if (key == "num_register_tokens") {
        s.registers = exactInteger(v, 0, std::int64_t{1} << 20, what);
      } else if (key == "pos_embed_shift" || key == "pos_embed_jitter" ||
                 key == "pos_embed_rescale") {
        // augment_patches_center_coordinates runs only under `if self.training` in
        // DINOv3ViTRopePositionEmbedding.forward: no effect on an eval forward.
        if (!v.is_null()) (void)finiteInRange(v, -1e12, 1e12, what);
      } else if (key == "pruned_heads") {
        if (!v.is_object() || !v.empty())
          throw ConfigValueError(what + " is not empty: pruned heads are not run by PatchLens");
      } else if (std::none_of(std::begin(kNoEffectInEval), std::end(kNoEffectInEval),
                              [&](const char* k) { return key == k; }) &&
                 !isHfConfigBookkeeping(key)) {
        throw ConfigValueError("key '" + key +
                               "' is not a DINOv3ViTConfig setting PatchLens reads; refused "
                               "rather than ignored");
      }
    }
  } catch (const ConfigValueError& e) {
    throw Error(file, std::string("config.json (Hugging Face DINOv3ViTModel): ") + e.what());
  }
  return s;
}

// ACT2FN's names as DINOv3ViTMLP / DINOv3ViTGatedMLP apply them.
Activation activationFor(const HfDinov3Settings& s, const std::string& file) {
  if (s.gated) {
    if (s.act == "silu" || s.act == "swish") return Activation::SwiGlu;
  } else {
    if (s.act == "gelu") return Activation::Gelu;
    if (s.act == "gelu_pytorch_tanh") return Activation::GeluTanh;
    if (s.act == "quick_gelu") return Activation::QuickGelu;
  }
  std::string shown;
  for (const char c : s.act.substr(0, 40)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  throw Error(file,
              "config.json (Hugging Face DINOv3ViTModel): hidden_act '" + shown + "' " +
                  (s.gated ? "with use_gated_mlp is not run by PatchLens (only silu)"
                           : "is not run by PatchLens (gelu, gelu_pytorch_tanh, quick_gelu)"));
}

// A bias the config says the layer has (then it must be there) or has not (then a stored one is
// refused: from_pretrained would leave it unloaded and run without it).
VectorF bias(FamilyTensors& r, const std::string& stem, std::int64_t rows, bool expected,
             const char* flag) {
  if (expected) return r.vector(stem + ".bias", rows);
  if (r.has(stem + ".bias"))
    r.fail(stem + ".bias", std::string("is in the file but config.json says ") + flag +
                               " false: Hugging Face's DINOv3ViTModel would not use it");
  return VectorF::Zero(rows);
}

}  // namespace

bool isHfDinov3Layout(const TensorSource& source, const std::string& path, std::string& prefix) {
  const std::string suffix = kPatchWeight;
  for (const TensorInfo& t : source.tensors()) {
    if (t.name.size() < suffix.size() ||
        t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string p = t.name.substr(0, t.name.size() - suffix.size());
    if (!p.empty() && p.back() != '.') continue;
    for (const char* marker : {"layer.0.layer_scale1.lambda1", "layer.0.attention.q_proj.weight",
                               "embeddings.register_tokens"}) {
      if (source.find(p + marker)) {
        prefix = p;
        return true;
      }
    }
    if (stringSetting(readTimmConfig(path), "model_type") == kModelType) {
      prefix = p;
      return true;
    }
  }
  return false;
}

std::shared_ptr<const TransformerWeights> readHfDinov3(const TensorSource& source,
                                                       const std::string& path,
                                                       const std::string& prefix,
                                                       const TransformerLoadOptions& options) {
  FamilyTensors r(source, path, prefix, "Hugging Face DINOv3ViTModel layout");
  const Json config = readTimmConfig(path);
  if (config.empty()) {
    const std::string marker =
        r.has("layer.0.layer_scale1.lambda1") ? "layer.0.layer_scale1.lambda1" : kPatchWeight;
    r.fail(marker,
           "is Hugging Face's DINOv3ViTModel layout, whose RoPE and heads (rope_theta, "
           "num_attention_heads) are only in its config.json: PatchLens runs it with that "
           "config.json beside the file");
  }
  const HfDinov3Settings s = readSettings(config, path);

  TransformerWeights w;
  TransformerConfig& c = w.config;
  const Shape patchShape = r.shape(kPatchWeight);
  if (patchShape.size() != 4 || patchShape[2] != patchShape[3])
    r.fail(kPatchWeight, "is " + shapeText(patchShape) + ", expected [D, C, P, P]");
  const std::int64_t d = patchShape[0];
  c.embedDim = static_cast<int>(d);
  c.depth = r.countBlocks("layer.");
  if (c.depth == 0) r.fail("layer.0.norm1.weight", "is missing: a DINOv3ViTModel with no layers");
  const auto agree = [&](const std::optional<std::int64_t>& named, std::int64_t actual,
                         const char* key, const std::string& tensor) {
    if (named && *named != actual)
      r.fail(tensor, "gives " + std::to_string(actual) + " but config.json " + key + " is " +
                         std::to_string(*named));
  };
  agree(s.hidden, d, "hidden_size", kPatchWeight);
  agree(s.patch, patchShape[2], "patch_size", kPatchWeight);
  agree(s.channels, patchShape[1], "num_channels", kPatchWeight);
  agree(s.layers, c.depth, "num_hidden_layers", "layer." + std::to_string(c.depth - 1));

  // Heads: config.json (or DINOv3ViTConfig's default); --heads must agree, as RoPE's head dim
  // follows them.
  c.numHeads = s.heads;
  c.headsSource = s.headsSource;
  if (options.heads > 0 && options.heads != c.numHeads)
    throw Error(path, "--heads " + std::to_string(options.heads) + " disagrees with the " +
                          std::to_string(c.numHeads) + " heads of " + c.headsSource);
  if (d % c.numHeads != 0 || (d / c.numHeads) % 4 != 0)
    throw Error(path, std::to_string(c.numHeads) + " heads (" + c.headsSource +
                          ") do not divide the width " + std::to_string(d) +
                          " into head dims divisible by 4, as DINOv3's RoPE needs");
  c.layerNormEps = s.eps;
  c.activation = activationFor(s, path);
  c.finalNorm = true;
  c.hasPositionEmbedding = false;
  c.layerScale = true;  // DINOv3ViTLayer always has layer_scale1/2

  // DINOv3ViTEmbeddings.forward: cls, register tokens, patches. The mask token only replaces
  // patches under bool_masked_pos (pre-training).
  c.classToken = true;
  std::vector<float> prefixRows = r.read("embeddings.cls_token", {d});
  const Shape regShape = r.shape("embeddings.register_tokens");
  if (regShape.size() != 3 || regShape[0] != 1 || regShape[2] != d)
    r.fail("embeddings.register_tokens",
           "is " + shapeText(regShape) + ", expected [1, R, " + std::to_string(d) + "]");
  agree(s.registers, regShape[1], "num_register_tokens", "embeddings.register_tokens");
  c.registerTokens = static_cast<int>(regShape[1]);
  if (c.registerTokens > 0) {
    const std::vector<float> regs = r.read("embeddings.register_tokens", {regShape[1], d});
    prefixRows.insert(prefixRows.end(), regs.begin(), regs.end());
  } else {
    r.markUsed("embeddings.register_tokens");  // [1, 0, D]: nothing to read
  }
  w.prefixTokens = Eigen::Map<const RowMatrixF>(prefixRows.data(), c.prefixTokens(), d);
  std::vector<std::pair<std::string, std::string>> unused;
  if (r.has("embeddings.mask_token")) {
    r.read("embeddings.mask_token", {d});
    unused.emplace_back(prefix + "embeddings.mask_token",
                        "mask token of masked-image pre-training, not in the forward");
  }
  w.finalNorm = r.layerNorm("norm", d);

  w.blocks.resize(static_cast<std::size_t>(c.depth));
  for (int i = 0; i < c.depth; ++i) {
    r.setContext("layer " + std::to_string(i + 1) + " of " + std::to_string(c.depth));
    const std::string p = "layer." + std::to_string(i) + ".";
    TransformerBlock& blk = w.blocks[static_cast<std::size_t>(i)];
    blk.norm1 = r.layerNorm(p + "norm1", d);
    // DINOv3ViTAttention: q, k, v apart (stacked here into the fused [3D x D] layout), biases
    // as query_bias / key_bias / value_bias say.
    RowMatrixF qkv(3 * d, d);
    VectorF qkvBias(3 * d);
    const char* const names[3] = {"attention.q_proj", "attention.k_proj", "attention.v_proj"};
    const bool hasBias[3] = {s.queryBias, s.keyBias, s.valueBias};
    const char* const flags[3] = {"query_bias", "key_bias", "value_bias"};
    for (int j = 0; j < 3; ++j) {
      qkv.middleRows(j * d, d) = r.matrix(p + names[j] + ".weight", d, d);
      qkvBias.segment(j * d, d) = bias(r, p + names[j], d, hasBias[j], flags[j]);
    }
    blk.qkv = LinearLayer(qkv, qkvBias);
    blk.proj = LinearLayer(r.matrix(p + "attention.o_proj.weight", d, d),
                           bias(r, p + "attention.o_proj", d, s.projBias, "proj_bias"));
    blk.layerScale1 = r.vector(p + "layer_scale1.lambda1", d);
    blk.norm2 = r.layerNorm(p + "norm2", d);
    // DINOv3ViTMLP: down(act(up x)); DINOv3ViTGatedMLP: down(act(gate x) * up x).
    const std::string first = p + (s.gated ? "mlp.gate_proj" : "mlp.up_proj");
    if (!s.gated && r.has(p + "mlp.gate_proj.weight"))
      r.fail(p + "mlp.gate_proj.weight",
             "is a gated MLP but config.json's use_gated_mlp is not true");
    const Shape fc1 = r.shape(first + ".weight");
    if (fc1.size() != 2 || fc1[1] != d)
      r.fail(first + ".weight",
             "is " + shapeText(fc1) + ", expected [M, " + std::to_string(d) + "]");
    const std::int64_t m = fc1[0];
    const auto layer = [&](const std::string& stem, std::int64_t rows, std::int64_t cols) {
      const RowMatrixF weight = r.matrix(stem + ".weight", rows, cols);
      return LinearLayer(weight, bias(r, stem, rows, s.mlpBias, "mlp_bias"));
    };
    blk.fc1 = layer(first, m, d);
    if (s.gated) blk.fc1Gate = layer(p + "mlp.up_proj", m, d);
    blk.fc2 = layer(p + "mlp.down_proj", d, m);
    blk.layerScale2 = r.vector(p + "layer_scale2.lambda1", d);
    if (i == 0) {
      c.mlpDim = static_cast<int>(m);
      agree(s.intermediate, m, "intermediate_size", first + ".weight");
    }
    if (m != c.mlpDim) r.fail(first + ".weight", "has another MLP width than layer 1");
  }
  r.setContext({});

  // DINOv3ViTRopePositionEmbedding: inv_freq = 1 / rope_theta ** arange(0, 1, 4 / head_dim) in
  // float32 (torch.arange's values start + k * step computed in double, then rounded).
  auto rope = std::make_shared<RopeEmbedding>();
  const int headDim = c.headDim();
  const double step = 4.0 / headDim;
  for (int k = 0; k < headDim / 4; ++k) {
    const float exponent = static_cast<float>(step * k);
    rope->inverseFrequencies.push_back(1.0f / std::pow(s.ropeTheta, exponent));
  }
  rope->prefixTokens = c.prefixTokens();
  w.rope = std::move(rope);

  // The patch embedding by its own name (DINOv3ViTEmbeddings.patch_embeddings, a Conv2d), then
  // every tensor left over refused.
  WeightLoadOptions patchOptions = options.patch;
  patchOptions.key = prefix + kPatchWeight;
  patchOptions.biasKey.clear();
  if (r.has("embeddings.patch_embeddings.bias"))
    patchOptions.biasKey = prefix + "embeddings.patch_embeddings.bias";
  PatchWeights patch = loadPatchWeights(path, patchOptions);
  r.markUsed(kPatchWeight);
  if (!patchOptions.biasKey.empty()) r.markUsed("embeddings.patch_embeddings.bias");
  r.refuseLeftovers();
  c.patchSize = patch.patchSize;
  c.inChannels = patch.inChannels;
  w.patchEmbedding = std::make_shared<const PatchEmbedding>(std::move(patch));
  c.unusedTensors = groupUnused(unused);
  c.family = "HF DINOv3ViTModel (" + std::to_string(c.registerTokens) + " registers, RoPE" +
             (s.gated ? ", gated MLP)" : ")");
  return std::make_shared<const TransformerWeights>(std::move(w));
}

}  // namespace patchlens
