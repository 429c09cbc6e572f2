#include "core/model/families/hf_siglip2_reader.h"

#include <algorithm>
#include <iterator>
#include <optional>

#include "core/io/error.h"
#include "core/model/families/hf_config_keys.h"
#include "core/model/families/naflex_reader.h"
#include "core/model/families/timm_config.h"
#include "core/weights/config_values.h"
#include "core/weights/shape_text.h"

namespace patchlens {
namespace {

using Json = nlohmann::json;

constexpr const char* kPrefix = "vision_model.";
constexpr const char* kPatchWeight = "vision_model.embeddings.patch_embedding.weight";

// Siglip2VisionConfig (configuration_siglip2.py): its defaults stand for a key config.json does
// not have, as PretrainedConfig.from_dict builds the class with them.
struct HfSiglip2Settings {
  int heads = 12;
  std::string headsSource = "Siglip2VisionConfig's default num_attention_heads";
  float eps = 1e-6f;
  std::string act = "gelu_pytorch_tanh";
  std::int64_t patch = 16, channels = 3, patches = 256;
  // Checked against the tensors when config.json names them.
  std::optional<std::int64_t> hidden, intermediate, layers;
};

// One Siglip2VisionConfig object (config.json itself for Siglip2VisionModel, its vision_config
// for Siglip2Model): every key read, checked against the tensors, without effect on the tokens,
// or refused by name.
void readVisionConfig(const Json& config, const std::string& where, HfSiglip2Settings& s) {
  // Training only (dropout) or the pooled head only (vision_use_head: the MAP head, known unused;
  // Siglip2VisionTransformer reads it with hasattr).
  static const char* const kNoEffect[] = {"attention_dropout", "vision_use_head",
                                          "initializer_factor", "initializer_range"};
  for (auto it = config.begin(); it != config.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    const std::string what = where + key;
    if (key == "model_type") {
      if (v != "siglip2_vision_model")
        throw ConfigValueError(what + " " + v.dump() + " is not 'siglip2_vision_model'");
    } else if (key == "architectures") {
      if (!v.is_array()) throw ConfigValueError(what + " is not a list");
      for (const Json& a : v) {
        if (a != "Siglip2VisionModel" && a != "Siglip2Model")
          throw ConfigValueError(what + " names " + a.dump() +
                                 ": PatchLens runs Siglip2VisionModel and Siglip2Model only");
      }
    } else if (key == "num_attention_heads") {
      s.heads = static_cast<int>(exactInteger(v, 1, kMaxHeads, what));
      s.headsSource = "config.json " + what;
    } else if (key == "layer_norm_eps") {
      s.eps = layerNormEps(configNumber(v, what), what);
    } else if (key == "hidden_act") {
      if (!v.is_string()) throw ConfigValueError(what + " is not a string");
      s.act = v.get<std::string>();
    } else if (key == "patch_size") {
      s.patch = exactInteger(v, 1, kMaxImageSide, what);
    } else if (key == "num_channels") {
      s.channels = exactInteger(v, 1, 4096, what);
    } else if (key == "num_patches") {
      s.patches = positiveSetting(v, what);
    } else if (key == "hidden_size") {
      s.hidden = positiveSetting(v, what);
    } else if (key == "intermediate_size") {
      s.intermediate = positiveSetting(v, what);
    } else if (key == "num_hidden_layers") {
      s.layers = positiveSetting(v, what);
    } else if (key == "pruned_heads") {
      if (!v.is_object() || !v.empty())
        throw ConfigValueError(what + " is not empty: pruned heads are not run by PatchLens");
    } else if (std::none_of(std::begin(kNoEffect), std::end(kNoEffect),
                            [&](const char* k) { return key == k; }) &&
               !isHfConfigBookkeeping(key)) {
      throw ConfigValueError("key '" + what +
                             "' is not a Siglip2VisionConfig setting PatchLens reads; refused "
                             "rather than ignored");
    }
  }
}

HfSiglip2Settings readSettings(const Json& config, const std::string& file) {
  HfSiglip2Settings s;
  try {
    const std::string type = stringSetting(config, "model_type");
    if (type == "siglip2_vision_model") {
      readVisionConfig(config, "", s);
    } else if (type == "siglip2") {
      // Siglip2Config: text_config drives the text tower only (known unused here),
      // initializer_factor initialisation only.
      for (auto it = config.begin(); it != config.end(); ++it) {
        const std::string& key = it.key();
        if (key == "vision_config") {
          if (!it.value().is_object()) throw ConfigValueError("vision_config is not an object");
          readVisionConfig(it.value(), "vision_config.", s);
        } else if (key == "architectures") {
          if (!it.value().is_array()) throw ConfigValueError("architectures is not a list");
          for (const Json& a : it.value()) {
            if (a != "Siglip2Model")
              throw ConfigValueError("architectures names " + a.dump() +
                                     ": PatchLens runs Siglip2Model's vision tower only");
          }
        } else if (key != "model_type" && key != "text_config" && key != "initializer_factor" &&
                   !isHfConfigBookkeeping(key)) {
          throw ConfigValueError("key '" + key +
                                 "' is not a Siglip2Config setting PatchLens reads; refused "
                                 "rather than ignored");
        }
      }
    } else {
      throw ConfigValueError("model_type '" + type +
                             "' is neither 'siglip2' nor 'siglip2_vision_model'");
    }
  } catch (const ConfigValueError& e) {
    throw Error(file, std::string("config.json (Hugging Face Siglip2VisionModel): ") + e.what());
  }
  return s;
}

// ACT2FN's names as Siglip2MLP applies them.
Activation activationFor(const std::string& act, const std::string& file) {
  if (act == "gelu_pytorch_tanh") return Activation::GeluTanh;
  if (act == "gelu") return Activation::Gelu;
  if (act == "quick_gelu") return Activation::QuickGelu;
  std::string shown;
  for (const char c : act.substr(0, 40)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  throw Error(file, "config.json (Hugging Face Siglip2VisionModel): hidden_act '" + shown +
                        "' is not run by PatchLens (gelu_pytorch_tanh, gelu, quick_gelu)");
}

}  // namespace

bool isHfSiglip2Layout(const TensorSource& source) {
  const TensorInfo* patch = source.find(kPatchWeight);
  return patch != nullptr && patch->shape.size() == 2;
}

std::shared_ptr<const TransformerWeights> readHfSiglip2(const TensorSource& source,
                                                        const std::string& path,
                                                        const TransformerLoadOptions& options) {
  const Json config = readTimmConfig(path);
  if (config.empty())
    throw Error(path, std::string("tensor '") + kPatchWeight +
                          "' is Hugging Face's Siglip2VisionModel (SigLIP 2 NaFlex) Linear patch "
                          "embedding, whose heads are only in its config.json: PatchLens runs it "
                          "with that config.json beside the file");
  const HfSiglip2Settings s = readSettings(config, path);

  NaflexLayout l;
  const bool whole = stringSetting(config, "model_type") == "siglip2";
  l.layout = whole ? "Hugging Face Siglip2Model layout" : "Hugging Face Siglip2VisionModel layout";
  l.prefix = kPrefix;
  l.patchWeight = "embeddings.patch_embedding.weight";
  l.patchBias = "embeddings.patch_embedding.bias";
  l.channelsLast = true;  // Siglip2ImageProcessor.convert_image_to_patches: (ph, pw, c)
  l.positions = "embeddings.position_embedding.weight";
  l.squarePositionRows = true;
  l.classToken.clear();
  l.registerTokens.clear();
  l.preNorm.clear();
  l.finalNorm = "post_layernorm";
  l.finalNormRequired = true;
  l.blocks = "encoder.layers.";
  l.norm1 = "layer_norm1";
  l.norm2 = "layer_norm2";
  l.qkv.clear();
  l.q = "self_attn.q_proj";
  l.k = "self_attn.k_proj";
  l.v = "self_attn.v_proj";
  l.proj = "self_attn.out_proj";
  l.layerScale1.clear();
  l.layerScale2.clear();
  l.biasesRequired = true;  // nn.Linear(...) with bias everywhere in modeling_siglip2.py
  l.unused = {{"head.",
               "attention-pool (MAP) head (Siglip2MultiheadAttentionPoolingHead), on "
               "the pooled output only"}};
  l.unusedOutsidePrefix = {
      {"text_model.", "Siglip2Model's text tower, not the image encoder"},
      {"logit_scale", "Siglip2Model's image-text logit scale, not the image encoder"},
      {"logit_bias", "Siglip2Model's image-text logit bias, not the image encoder"}};
  if (!whole) l.unusedOutsidePrefix.clear();

  NaflexRun run;
  run.heads = s.heads;
  run.headsSource = s.headsSource;
  if (options.heads > 0 && options.heads != s.heads)
    throw Error(path, "--heads " + std::to_string(options.heads) + " disagrees with the " +
                          std::to_string(s.heads) + " heads of " + s.headsSource);
  run.activation = activationFor(s.act, path);
  run.layerNormEps = s.eps;
  run.bilinear = true;  // resize_positional_embeddings: mode="bilinear", antialias=True
  run.patchSize = static_cast<int>(s.patch);
  run.inChannels = static_cast<int>(s.channels);
  run.patchDescription = "Hugging Face Siglip2VisionModel Linear patch embedding";
  auto weights =
      std::make_shared<TransformerWeights>(readNaflexEncoder(source, path, l, run, options));
  TransformerConfig& c = weights->config;

  // What config.json names must be what the tensors are (from_pretrained would refuse a
  // mismatch, or for num_patches reshape the table otherwise).
  const auto agree = [&](const std::optional<std::int64_t>& named, std::int64_t actual,
                         const std::string& key, const std::string& tensor) {
    if (named && *named != actual)
      throw Error(path, "tensor '" + tensor + "' gives " + std::to_string(actual) +
                            " but config.json " + key + " is " + std::to_string(*named));
  };
  agree(s.hidden, c.embedDim, "hidden_size", kPatchWeight);
  agree(s.intermediate, c.mlpDim, "intermediate_size",
        "vision_model.encoder.layers.0.mlp.fc1.weight");
  agree(s.layers, c.depth, "num_hidden_layers", "vision_model.encoder.layers");
  agree(s.patches, std::int64_t{c.nativeGridRows} * c.nativeGridCols, "num_patches",
        "vision_model.embeddings.position_embedding.weight");

  c.family = std::string("HF ") + (whole ? "Siglip2Model" : "Siglip2VisionModel") +
             " (SigLIP 2 NaFlex, " + std::to_string(c.nativeGridRows) + "x" +
             std::to_string(c.nativeGridCols) + " position grid resized bilinear)";
  return weights;
}

}  // namespace patchlens
