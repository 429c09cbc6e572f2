#include "core/model/transformer_families.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/io/error.h"
#include "core/model/families/beit_reader.h"
#include "core/model/families/dinov3_reader.h"
#include "core/model/families/eva_reader.h"
#include "core/model/families/gguf_vision_tower.h"
#include "core/model/families/hf_dinov3_reader.h"
#include "core/model/families/hf_siglip2_reader.h"
#include "core/model/families/naflex_reader.h"
#include "core/model/families/naflex_refusal.h"
#include "core/model/family_tensor_rules.h"
#include "core/model/resource_plan.h"
#include "core/weights/config_values.h"
#include "core/weights/gguf_file.h"
#include "core/weights/shape_text.h"
#include "core/weights/weight_keys.h"
#include "core/weights/weight_loader.h"

namespace patchlens {
namespace {

using Shape = std::vector<std::int64_t>;

std::int64_t product(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

// Reads a family's tensors under one prefix, checking each shape and naming the tensor (and the
// block it belongs to) in every refusal.
class Reader {
 public:
  Reader(const TensorSource& source, std::string path, std::string prefix)
      : m_source(source), m_path(std::move(path)), m_prefix(std::move(prefix)) {
    for (const TensorInfo& t : source.tensors()) m_names.insert(t.name);
  }

  const std::string& prefix() const { return m_prefix; }
  const std::string& path() const { return m_path; }
  // Shapes only (TransformerLoadOptions::shapesOnly): every name and shape is checked as in a
  // load, but no tensor is converted; read() returns the shape with no data.
  bool shapesOnly() const { return m_shapesOnly; }
  void setShapesOnly(bool on) { m_shapesOnly = on; }
  bool has(const std::string& name) const { return m_names.count(m_prefix + name) > 0; }
  const TensorInfo* info(const std::string& name) const { return m_source.find(m_prefix + name); }
  void setContext(std::string context) { m_context = std::move(context); }

  // How many blocks "<stem>0<sep>...", "<stem>1<sep>..." exist, counting every index that has a
  // tensor so that a block missing its first tensor is still read (and refused by name).
  int countBlocks(const std::string& stem, char sep) const {
    int count = 0;
    const std::string full = m_prefix + stem;
    for (const std::string& n : m_names) {
      if (n.compare(0, full.size(), full) != 0) continue;
      std::size_t i = full.size();
      int index = 0;
      bool digits = false;
      while (i < n.size() && n[i] >= '0' && n[i] <= '9' && index < 100000) {
        index = index * 10 + (n[i] - '0');
        ++i;
        digits = true;
      }
      if (digits && i < n.size() && n[i] == sep) count = std::max(count, index + 1);
    }
    return count;
  }

  [[noreturn]] void fail(const std::string& name, const std::string& why) const {
    throw Error(m_path, "tensor '" + m_prefix + name + "' " + why +
                            (m_context.empty() ? "" : " (" + m_context + ")"));
  }

  // The tensor as float32; shape checked against `expected` (-1 = any) up to leading 1s when
  // squeeze is set.
  NpyArray read(const std::string& name, const Shape& expected) const {
    const TensorInfo* t = info(name);
    if (!t) fail(name, "is missing");
    m_consumed.insert(m_prefix + name);
    if (!matches(t->shape, expected)) {
      fail(name, "is " + shapeText(t->shape) + ", expected " + shapeText(expected));
    }
    if (m_shapesOnly) return NpyArray{t->shape, {}};
    NpyArray a = m_source.read(m_prefix + name);
    for (float v : a.data) {
      if (!std::isfinite(v)) fail(name, "holds non-finite values (NaN or Inf)");
    }
    return a;
  }

  Shape shape(const std::string& name) const {
    const TensorInfo* t = info(name);
    if (!t) fail(name, "is missing");
    return t->shape;
  }

  // A [d] vector stored as [d], [1, d] or [1, 1, d].
  VectorF vector(const std::string& name, std::int64_t d) const {
    const TensorInfo* t = info(name);
    if (!t) fail(name, "is missing");
    if (t->shape.empty() || t->shape.back() != d || product(t->shape) != d)
      fail(name, "is " + shapeText(t->shape) + ", expected [" + std::to_string(d) + "]");
    const NpyArray a = read(name, {});
    if (m_shapesOnly) return VectorF::Zero(d);
    return Eigen::Map<const VectorF>(a.data.data(), d);
  }

  // Empty in shapes-only mode.
  RowMatrixF matrix(const std::string& name, std::int64_t rows, std::int64_t cols) const {
    const NpyArray a = read(name, {rows, cols});
    if (m_shapesOnly) return {};
    return Eigen::Map<const RowMatrixF>(a.data.data(), rows, cols);
  }

  LayerNormWeights layerNorm(const std::string& weight, const std::string& bias,
                             std::int64_t d) const {
    return {vector(weight, d), vector(bias, d)};
  }

  // A tensor read elsewhere (the patch embedding, by loadPatchWeights): full name.
  void markConsumed(const std::string& fullName) const { m_consumed.insert(fullName); }

  // Every tensor of the file no read() took, in name order.
  std::vector<std::string> unconsumed() const {
    std::vector<std::string> out;
    for (const std::string& n : m_names) {
      if (!m_consumed.count(n)) out.push_back(n);
    }
    return out;
  }

 private:
  static bool matches(const Shape& actual, const Shape& expected) {
    if (expected.empty()) return true;
    if (actual.size() != expected.size()) return false;
    for (std::size_t i = 0; i < actual.size(); ++i) {
      if (expected[i] >= 0 && actual[i] != expected[i]) return false;
    }
    return true;
  }

  const TensorSource& m_source;
  std::string m_path;
  std::string m_prefix;
  std::string m_context;
  bool m_shapesOnly = false;
  std::set<std::string> m_names;
  mutable std::set<std::string> m_consumed;  // full names
};

// What a config sidecar (config.json beside the weights: HF's, or timm's with model_args)
// says about the encoder.
struct Sidecar {
  std::string file;
  int heads = 0;
  std::string headsKey;
  std::optional<float> eps;
  std::string activation;  // hidden_act / act_layer / "quick_gelu" from the architecture name
  int imageHeight = 0, imageWidth = 0;  // the native input size, 0: not named
  std::string imageSizeKey;
  std::optional<bool> noEmbedClass;  // timm model_args.no_embed_class
};

// An image size given as an int or [H, W] (or timm's input_size [C, H, W]).
bool readImageSize(const nlohmann::json& j, int& height, int& width) {
  const auto positive = [](const nlohmann::json& v) {
    return v.is_number_integer() && v.get<long long>() > 0 && v.get<long long>() < 1'000'000;
  };
  if (positive(j)) {
    height = width = j.get<int>();
    return true;
  }
  if (j.is_array() && (j.size() == 2 || j.size() == 3) && positive(j[j.size() - 2]) &&
      positive(j[j.size() - 1])) {
    height = j[j.size() - 2].get<int>();
    width = j[j.size() - 1].get<int>();
    return true;
  }
  return false;
}

std::optional<Sidecar> readSidecar(const std::string& weightsPath, int width) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path file = fs::path(weightsPath).parent_path() / "config.json";
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > (std::uintmax_t{4} << 20))
    return std::nullopt;
  std::ifstream in(file);
  const nlohmann::json root = nlohmann::json::parse(in, nullptr, false);
  // Heads, eps and sizes may be in it: an unreadable one is refused, not run as if absent.
  if (root.is_discarded())
    throw Error(file.string(),
                "is not valid JSON (a NaN or Infinity literal is not JSON), so the "
                "encoder's settings in it cannot be read");
  if (!root.is_object()) return std::nullopt;
  // Vision settings live at the top (ViTConfig, timm), under vision_config (CLIPConfig,
  // SiglipConfig) or under model_args (timm hub configs).
  const nlohmann::json* scopes[3] = {&root, nullptr, nullptr};
  const std::string scopeNames[3] = {"", "vision_config.", "model_args."};
  if (root.contains("vision_config") && root["vision_config"].is_object())
    scopes[1] = &root["vision_config"];
  if (root.contains("model_args") && root["model_args"].is_object())
    scopes[2] = &root["model_args"];
  Sidecar s;
  s.file = file.string();
  for (int i = 0; i < 3; ++i) {
    if (!scopes[i]) continue;
    const nlohmann::json& j = *scopes[i];
    // A sidecar for another width is not this file's (a text tower, a different model).
    for (const char* key : {"hidden_size", "embed_dim"}) {
      if (j.contains(key) && j[key].is_number_integer() && j[key].get<std::int64_t>() != width)
        return std::nullopt;
    }
    // Every value the encoder uses passes the one validator (config_values.h): refused by
    // name, never truncated or ignored.
    try {
      for (const char* key : {"num_attention_heads", "num_heads"}) {
        if (s.heads == 0 && j.contains(key) && !j[key].is_null()) {
          s.headsKey = scopeNames[i] + key;
          s.heads = static_cast<int>(exactInteger(j[key], 1, kMaxHeads, s.headsKey));
        }
      }
      for (const char* key : {"layer_norm_eps", "norm_eps"}) {
        if (!s.eps && j.contains(key) && !j[key].is_null()) {
          const std::string name = scopeNames[i] + key;
          s.eps = layerNormEps(configNumber(j[key], name), name);
        }
      }
      for (const char* key : {"hidden_act", "act_layer"}) {
        if (s.activation.empty() && j.contains(key) && !j[key].is_null()) {
          const std::string name = scopeNames[i] + key;
          if (!j[key].is_string()) throw ConfigValueError(name + " is not a string");
          s.activation = checkedActivation(j[key].get<std::string>(), name);
        }
      }
    } catch (const ConfigValueError& e) {
      throw Error(s.file, e.what());
    }
  }
  // The native image size: timm model_args.img_size, else timm pretrained_cfg.input_size (timm
  // builds the model with it), else HF image_size (top level or vision_config).
  // The encoder's own keys are refused by name when they hold no size; pretrained_cfg.input_size
  // is the preprocessing's (warned about there, its defaults kept).
  const auto imageSize = [&](const nlohmann::json* scope, const char* key, const std::string& name,
                             bool encoderKey = true) {
    if (s.imageHeight != 0 || !scope || !scope->contains(key) || (*scope)[key].is_null()) return;
    if (readImageSize((*scope)[key], s.imageHeight, s.imageWidth)) {
      s.imageSizeKey = "config.json " + name;
    } else if (encoderKey) {
      const nlohmann::json& v = (*scope)[key];
      const std::string shown = v.is_number() ? configNumberText(v.get<double>()) : v.dump();
      throw Error(s.file, name + " " + printable(shown.substr(0, 60)) +
                              " is not an image size (a positive integer or [H, W] below "
                              "1000000)");
    }
  };
  imageSize(scopes[2], "img_size", "model_args.img_size");
  if (root.contains("pretrained_cfg") && root["pretrained_cfg"].is_object())
    imageSize(&root["pretrained_cfg"], "input_size", "pretrained_cfg.input_size", false);
  imageSize(scopes[0], "image_size", "image_size");
  imageSize(scopes[1], "image_size", "vision_config.image_size");
  if (scopes[2] && scopes[2]->contains("no_embed_class") &&
      (*scopes[2])["no_embed_class"].is_boolean())
    s.noEmbedClass = (*scopes[2])["no_embed_class"].get<bool>();
  if (s.activation.empty() && root.contains("architecture") && root["architecture"].is_string() &&
      root["architecture"].get<std::string>().find("quickgelu") != std::string::npos) {
    s.activation = "quick_gelu";
  }
  return s;
}

std::optional<Activation> activationFromName(const std::string& name) {
  if (name == "gelu" || name == "gelu_new_erf") return Activation::Gelu;
  if (name == "quick_gelu" || name == "quickgelu") return Activation::QuickGelu;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new" || name == "gelu_tanh")
    return Activation::GeluTanh;
  return std::nullopt;
}

LinearLayer linear(const Reader& r, const std::string& weight, const std::string& bias,
                   std::int64_t out, std::int64_t in) {
  const RowMatrixF w = r.matrix(weight, out, in);
  const VectorF b = bias.empty() ? VectorF::Zero(out) : r.vector(bias, out);
  if (r.shapesOnly()) return LinearLayer::shapeOnly(static_cast<int>(out), static_cast<int>(in));
  return LinearLayer(w, b);
}

// q, k, v stored apart (HF) stacked into timm's fused [3D x D] layout.
LinearLayer stackedQkv(const Reader& r, const std::string& stem, const char* const names[3],
                       const char* weightSuffix, const char* biasSuffix, std::int64_t d) {
  if (r.shapesOnly()) {
    for (int i = 0; i < 3; ++i) {
      r.matrix(stem + names[i] + weightSuffix, d, d);
      r.vector(stem + names[i] + biasSuffix, d);
    }
    return LinearLayer::shapeOnly(static_cast<int>(3 * d), static_cast<int>(d));
  }
  RowMatrixF w(3 * d, d);
  VectorF b(3 * d);
  for (int i = 0; i < 3; ++i) {
    w.middleRows(i * d, d) = r.matrix(stem + names[i] + weightSuffix, d, d);
    b.segment(i * d, d) = r.vector(stem + names[i] + biasSuffix, d);
  }
  return LinearLayer(w, b);
}

// The hidden width of an MLP from its first layer's weight [M, D] (or Flax [D, M]).
std::int64_t mlpWidth(const Reader& r, const std::string& weight, std::int64_t d, bool flax) {
  const Shape s = r.shape(weight);
  if (s.size() != 2 || s[flax ? 0 : 1] != d)
    r.fail(weight,
           "is " + shapeText(s) + ", expected " +
               (flax ? "[" + std::to_string(d) + ", M]" : "[M, " + std::to_string(d) + "]"));
  return s[flax ? 1 : 0];
}

// The families' names, as weight_keys.cpp reports them, and the suffix of their patch weight.
struct PatchFamily {
  const char* keysFamily;
  const char* weightSuffix;
};
constexpr PatchFamily kPatchFamilies[] = {
    {"timm ViT/DeiT/DINOv2", "patch_embed.proj.weight"},
    {"Hugging Face ViT", "embeddings.patch_embeddings.projection.weight"},
    {"torchvision ViT", "conv_proj.weight"},
    {"OpenAI CLIP", "visual.conv1.weight"},
    {"Hugging Face CLIP/SigLIP", "vision_model.embeddings.patch_embedding.weight"},
    {"Google ViT (npz)", "embedding/kernel"},
    {"llama.cpp CLIP (GGUF)", "v.patch_embd.weight"},
};

// Everything the family readers fill besides blocks.
struct Build {
  TransformerWeights w;
  int heads = 0;  // exact from the file's layout (Google npz, OpenAI CLIP's rule), else 0
  std::string headsSource;
  std::string posName;  // the position table's tensor name (under the prefix), empty: none
  // How many prefix tokens the table may cover, from the family's code (timm: all of them, or
  // none with no_embed_class); empty: the class token's row, if any.
  std::vector<int> positionPrefixCandidates;
};

// Register tokens ([1, R, D] under `registers`, when present) after the class / distillation
// tokens in `prefix`, then all of them as the model's prefix rows; the family names the count.
void setPrefixTokens(const Reader& r, Build& b, const std::string& registers,
                     std::vector<VectorF> prefix, std::int64_t d) {
  TransformerConfig& c = b.w.config;
  if (r.has(registers)) {
    const Shape s = r.shape(registers);
    const NpyArray a = r.read(registers, {1, -1, d});
    c.registerTokens = static_cast<int>(s[1]);
    for (int i = 0; i < c.registerTokens && !r.shapesOnly(); ++i)
      prefix.emplace_back(Eigen::Map<const VectorF>(a.data.data() + i * d, d));
    c.family += " (" + std::to_string(c.registerTokens) + " registers)";
  }
  b.w.prefixTokens.resize(static_cast<Eigen::Index>(prefix.size()), d);
  for (std::size_t i = 0; i < prefix.size(); ++i)
    b.w.prefixTokens.row(static_cast<Eigen::Index>(i)) = prefix[i].transpose();
}

void readTimm(const Reader& r, Build& b, std::int64_t d) {
  TransformerConfig& c = b.w.config;
  c.depth = r.countBlocks("blocks.", '.');
  c.layerScale = r.has("blocks.0.ls1.gamma");
  c.preNorm = r.has("norm_pre.weight");
  c.finalNorm = r.has("norm.weight");
  c.layerNormEps = c.preNorm ? 1e-5f : 1e-6f;  // timm's CLIP models use LayerNorm(eps=1e-5)
  c.resample = PositionResample::TimmBicubic;
  if (r.has("blocks.0.mlp.w12.weight") || r.has("blocks.0.mlp.fc1_g.weight"))
    r.fail("blocks.0.mlp.w12.weight", "is a SwiGLU MLP, which PatchLens does not run");
  c.family = c.layerScale ? "timm DINOv2" : c.preNorm ? "timm CLIP" : "timm ViT";
  b.posName = r.has("pos_embed") ? "pos_embed" : "";
  std::vector<VectorF> prefix;
  if (r.has("cls_token")) {
    c.classToken = true;
    prefix.push_back(r.vector("cls_token", d));
  }
  if (r.has("dist_token")) {
    c.distillationToken = true;
    c.family = "timm DeiT (distilled)";
    prefix.push_back(r.vector("dist_token", d));
  }
  // Meta's DINOv2 .pth (mask_token, register_tokens) as timm's _convert_dinov2 reads it: the
  // table covers the class token only. Meta's own code resamples the table otherwise than timm
  // (scale factor with a 0.1 offset), so other grids are refused.
  const bool metaNaming = r.has("mask_token") || r.has("register_tokens");
  if (metaNaming) {
    c.resample = PositionResample::None;
    c.family += " (Meta naming)";
  }
  setPrefixTokens(r, b, metaNaming ? "register_tokens" : "reg_token", std::move(prefix), d);
  // deit.py: the distilled table covers cls and dist; vision_transformer.py: every prefix token,
  // or none with no_embed_class.
  const int all = c.prefixTokens();
  if (c.distillationToken) {
    b.positionPrefixCandidates = {all};
  } else if (metaNaming) {
    b.positionPrefixCandidates = {c.classToken ? 1 : 0};
  } else {
    b.positionPrefixCandidates = {all};
    if (all > 0) b.positionPrefixCandidates.push_back(0);
  }
  if (c.preNorm) b.w.preNorm = r.layerNorm("norm_pre.weight", "norm_pre.bias", d);
  if (c.finalNorm) b.w.finalNorm = r.layerNorm("norm.weight", "norm.bias", d);
}

void readTimmBlock(Reader& r, TransformerBlock& blk, const std::string& p, std::int64_t d,
                   bool layerScale) {
  blk.norm1 = r.layerNorm(p + "norm1.weight", p + "norm1.bias", d);
  blk.qkv = linear(r, p + "attn.qkv.weight", r.has(p + "attn.qkv.bias") ? p + "attn.qkv.bias" : "",
                   3 * d, d);
  blk.proj = linear(r, p + "attn.proj.weight", p + "attn.proj.bias", d, d);
  blk.norm2 = r.layerNorm(p + "norm2.weight", p + "norm2.bias", d);
  const std::int64_t m = mlpWidth(r, p + "mlp.fc1.weight", d, false);
  blk.fc1 = linear(r, p + "mlp.fc1.weight", p + "mlp.fc1.bias", m, d);
  blk.fc2 = linear(r, p + "mlp.fc2.weight", p + "mlp.fc2.bias", d, m);
  if (layerScale) {
    blk.layerScale1 = r.vector(p + "ls1.gamma", d);
    blk.layerScale2 = r.vector(p + "ls2.gamma", d);
  }
}

void readHfVit(const Reader& r, Build& b, std::int64_t d) {
  TransformerConfig& c = b.w.config;
  c.depth = r.countBlocks("encoder.layer.", '.');
  const bool dinov2 = r.has("encoder.layer.0.norm1.weight");
  c.layerScale = dinov2;
  c.layerNormEps = dinov2 ? 1e-6f : 1e-12f;
  c.family = dinov2 ? "HF Dinov2Model" : "HF ViTModel";
  c.resample = PositionResample::HfScaleFactor;
  c.finalNorm = true;
  b.posName = "embeddings.position_embeddings";
  std::vector<VectorF> prefix;
  c.classToken = true;
  prefix.push_back(r.vector("embeddings.cls_token", d));
  if (r.has("embeddings.distillation_token")) {
    c.distillationToken = true;
    c.family = "HF DeiT (distilled)";
    c.resample = PositionResample::None;  // its interpolate_pos_encoding differs; not followed
    prefix.push_back(r.vector("embeddings.distillation_token", d));
  }
  // modeling_vit / modeling_deit: the table covers cls (and dist); Dinov2WithRegisters inserts
  // the registers after the position embedding is added.
  b.positionPrefixCandidates = {c.distillationToken ? 2 : 1};
  setPrefixTokens(r, b, "embeddings.register_tokens", std::move(prefix), d);
  b.w.finalNorm = r.layerNorm("layernorm.weight", "layernorm.bias", d);
}

void readHfVitBlock(Reader& r, TransformerBlock& blk, const std::string& p, std::int64_t d,
                    bool dinov2) {
  static const char* const kQkv[3] = {"query", "key", "value"};
  const std::string n1 = dinov2 ? "norm1" : "layernorm_before";
  const std::string n2 = dinov2 ? "norm2" : "layernorm_after";
  blk.norm1 = r.layerNorm(p + n1 + ".weight", p + n1 + ".bias", d);
  blk.qkv = stackedQkv(r, p + "attention.attention.", kQkv, ".weight", ".bias", d);
  blk.proj =
      linear(r, p + "attention.output.dense.weight", p + "attention.output.dense.bias", d, d);
  blk.norm2 = r.layerNorm(p + n2 + ".weight", p + n2 + ".bias", d);
  const std::string fc1 = dinov2 ? "mlp.fc1" : "intermediate.dense";
  const std::string fc2 = dinov2 ? "mlp.fc2" : "output.dense";
  const std::int64_t m = mlpWidth(r, p + fc1 + ".weight", d, false);
  blk.fc1 = linear(r, p + fc1 + ".weight", p + fc1 + ".bias", m, d);
  blk.fc2 = linear(r, p + fc2 + ".weight", p + fc2 + ".bias", d, m);
  if (dinov2) {
    blk.layerScale1 = r.vector(p + "layer_scale1.lambda1", d);
    blk.layerScale2 = r.vector(p + "layer_scale2.lambda1", d);
  }
}

void readHfClip(const Reader& r, Build& b, std::int64_t d) {
  TransformerConfig& c = b.w.config;
  c.depth = r.countBlocks("vision_model.encoder.layers.", '.');
  c.classToken = r.has("vision_model.embeddings.class_embedding");
  c.preNorm = r.has("vision_model.pre_layrnorm.weight");
  c.finalNorm = r.has("vision_model.post_layernorm.weight");
  const bool siglip = !c.classToken;
  c.family = siglip ? "HF SiglipVisionModel" : "HF CLIPVisionModel";
  c.layerNormEps = siglip ? 1e-6f : 1e-5f;
  c.activation = siglip ? Activation::GeluTanh : Activation::QuickGelu;
  c.resample = PositionResample::None;
  b.posName = "vision_model.embeddings.position_embedding.weight";
  if (c.classToken) {
    b.w.prefixTokens = r.vector("vision_model.embeddings.class_embedding", d).transpose();
  }
  if (c.preNorm)
    b.w.preNorm =
        r.layerNorm("vision_model.pre_layrnorm.weight", "vision_model.pre_layrnorm.bias", d);
  if (c.finalNorm) {
    b.w.finalNorm =
        r.layerNorm("vision_model.post_layernorm.weight", "vision_model.post_layernorm.bias", d);
  }
}

void readHfClipBlock(Reader& r, TransformerBlock& blk, const std::string& p, std::int64_t d) {
  static const char* const kQkv[3] = {"q_proj", "k_proj", "v_proj"};
  blk.norm1 = r.layerNorm(p + "layer_norm1.weight", p + "layer_norm1.bias", d);
  blk.qkv = stackedQkv(r, p + "self_attn.", kQkv, ".weight", ".bias", d);
  blk.proj = linear(r, p + "self_attn.out_proj.weight", p + "self_attn.out_proj.bias", d, d);
  blk.norm2 = r.layerNorm(p + "layer_norm2.weight", p + "layer_norm2.bias", d);
  const std::int64_t m = mlpWidth(r, p + "mlp.fc1.weight", d, false);
  blk.fc1 = linear(r, p + "mlp.fc1.weight", p + "mlp.fc1.bias", m, d);
  blk.fc2 = linear(r, p + "mlp.fc2.weight", p + "mlp.fc2.bias", d, m);
}

void readOpenAiClip(const Reader& r, Build& b, std::int64_t d) {
  TransformerConfig& c = b.w.config;
  c.family = "OpenAI CLIP";
  c.depth = r.countBlocks("visual.transformer.resblocks.", '.');
  c.classToken = true;
  c.preNorm = true;
  c.finalNorm = true;
  c.layerNormEps = 1e-5f;
  c.activation = Activation::QuickGelu;
  c.resample = PositionResample::None;
  b.posName = "visual.positional_embedding";
  b.w.prefixTokens = r.vector("visual.class_embedding", d).transpose();
  b.w.preNorm = r.layerNorm("visual.ln_pre.weight", "visual.ln_pre.bias", d);
  b.w.finalNorm = r.layerNorm("visual.ln_post.weight", "visual.ln_post.bias", d);
  if (d % 64 == 0) {  // clip/model.py: vision_heads = vision_width // 64
    b.heads = static_cast<int>(d / 64);
    b.headsSource = "OpenAI CLIP's rule heads = width / 64";
  }
}

// OpenAI CLIP resblocks and torchvision encoder layers: nn.MultiheadAttention's in_proj.
void readInProjBlock(Reader& r, TransformerBlock& blk, const std::string& p, std::int64_t d,
                     const std::string& attn, const std::string& fc1, const std::string& fc2) {
  blk.norm1 = r.layerNorm(p + "ln_1.weight", p + "ln_1.bias", d);
  blk.qkv = linear(r, p + attn + ".in_proj_weight", p + attn + ".in_proj_bias", 3 * d, d);
  blk.proj = linear(r, p + attn + ".out_proj.weight", p + attn + ".out_proj.bias", d, d);
  blk.norm2 = r.layerNorm(p + "ln_2.weight", p + "ln_2.bias", d);
  const std::int64_t m = mlpWidth(r, p + fc1 + ".weight", d, false);
  blk.fc1 = linear(r, p + fc1 + ".weight", p + fc1 + ".bias", m, d);
  blk.fc2 = linear(r, p + fc2 + ".weight", p + fc2 + ".bias", d, m);
}

void readTorchvision(const Reader& r, Build& b, std::int64_t d) {
  TransformerConfig& c = b.w.config;
  c.family = "torchvision VisionTransformer";
  c.depth = r.countBlocks("encoder.layers.encoder_layer_", '.');
  c.classToken = true;
  c.finalNorm = true;
  c.layerNormEps = 1e-6f;
  c.resample = PositionResample::None;
  b.posName = "encoder.pos_embedding";
  b.w.prefixTokens = r.vector("class_token", d).transpose();
  b.w.finalNorm = r.layerNorm("encoder.ln.weight", "encoder.ln.bias", d);
}

void readGoogle(const Reader& r, Build& b, std::int64_t d) {
  TransformerConfig& c = b.w.config;
  c.family = "Google ViT (npz)";
  c.depth = r.countBlocks("Transformer/encoderblock_", '/');
  c.classToken = r.has("cls");
  c.finalNorm = true;
  c.layerNormEps = 1e-6f;               // flax.linen.LayerNorm default
  c.activation = Activation::GeluTanh;  // flax.linen.gelu defaults to approximate=True
  c.resample = PositionResample::None;
  b.posName = "Transformer/posembed_input/pos_embedding";
  if (c.classToken) b.w.prefixTokens = r.vector("cls", d).transpose();
  b.w.finalNorm = r.layerNorm("Transformer/encoder_norm/scale", "Transformer/encoder_norm/bias", d);
}

// The Flax block: LayerNorm_0, MultiHeadDotProductAttention_1 (q/k/v kernels [D, H, Dh],
// out [H, Dh, D]), LayerNorm_2, MlpBlock_3 (Dense kernels [in, out]); big_vision numbers them
// 0, 0, 1, 0 instead.
void readGoogleBlock(Reader& r, TransformerBlock& blk, const std::string& p, std::int64_t d,
                     int& heads) {
  const auto pick = [&](const char* a, const char* bName) {
    return r.has(p + a + "/scale") || r.has(p + a + "/query/kernel") ||
                   r.has(p + a + "/Dense_0/kernel")
               ? std::string(a)
               : std::string(bName);
  };
  const std::string ln1 = "LayerNorm_0";
  const std::string attn = pick("MultiHeadDotProductAttention_1", "MultiHeadDotProductAttention_0");
  const std::string ln2 = pick("LayerNorm_2", "LayerNorm_1");
  const std::string mlp = pick("MlpBlock_3", "MlpBlock_0");
  blk.norm1 = r.layerNorm(p + ln1 + "/scale", p + ln1 + "/bias", d);
  const Shape qs = r.shape(p + attn + "/query/kernel");
  if (qs.size() != 3 || qs[0] != d || qs[1] <= 0 || qs[1] * qs[2] != d)
    r.fail(p + attn + "/query/kernel", "is " + shapeText(qs) + ", expected [D, heads, D / heads]");
  heads = static_cast<int>(qs[1]);
  if (r.shapesOnly()) {  // the same names and shapes checked, nothing converted
    const char* parts[] = {"/query", "/key", "/value"};
    for (const char* part : parts) {
      r.read(p + attn + part + "/kernel", {d, qs[1], qs[2]});
      r.read(p + attn + part + "/bias", {qs[1], qs[2]});
    }
    r.read(p + attn + "/out/kernel", {qs[1], qs[2], d});
    r.vector(p + attn + "/out/bias", d);
    blk.qkv = LinearLayer::shapeOnly(static_cast<int>(3 * d), static_cast<int>(d));
    blk.proj = LinearLayer::shapeOnly(static_cast<int>(d), static_cast<int>(d));
    blk.norm2 = r.layerNorm(p + ln2 + "/scale", p + ln2 + "/bias", d);
    const std::int64_t m = mlpWidth(r, p + mlp + "/Dense_0/kernel", d, true);
    r.read(p + mlp + "/Dense_0/kernel", {d, m});
    r.vector(p + mlp + "/Dense_0/bias", m);
    r.read(p + mlp + "/Dense_1/kernel", {m, d});
    r.vector(p + mlp + "/Dense_1/bias", d);
    blk.fc1 = LinearLayer::shapeOnly(static_cast<int>(m), static_cast<int>(d));
    blk.fc2 = LinearLayer::shapeOnly(static_cast<int>(d), static_cast<int>(m));
    return;
  }
  RowMatrixF w(3 * d, d);
  VectorF bias(3 * d);
  const char* names[3] = {"/query", "/key", "/value"};
  for (int i = 0; i < 3; ++i) {
    const NpyArray k = r.read(p + attn + names[i] + "/kernel", {d, qs[1], qs[2]});
    // [D_in, H, Dh] is x @ K: the torch weight is its transpose [H*Dh, D_in].
    w.middleRows(i * d, d) = Eigen::Map<const RowMatrixF>(k.data.data(), d, d).transpose();
    const NpyArray bb = r.read(p + attn + names[i] + "/bias", {qs[1], qs[2]});
    bias.segment(i * d, d) = Eigen::Map<const VectorF>(bb.data.data(), d);
  }
  blk.qkv = LinearLayer(w, bias);
  const NpyArray o = r.read(p + attn + "/out/kernel", {qs[1], qs[2], d});
  blk.proj = LinearLayer(Eigen::Map<const RowMatrixF>(o.data.data(), d, d).transpose(),
                         r.vector(p + attn + "/out/bias", d));
  blk.norm2 = r.layerNorm(p + ln2 + "/scale", p + ln2 + "/bias", d);
  const std::int64_t m = mlpWidth(r, p + mlp + "/Dense_0/kernel", d, true);
  const NpyArray k0 = r.read(p + mlp + "/Dense_0/kernel", {d, m});
  blk.fc1 = LinearLayer(Eigen::Map<const RowMatrixF>(k0.data.data(), d, m).transpose(),
                        r.vector(p + mlp + "/Dense_0/bias", m));
  const NpyArray k1 = r.read(p + mlp + "/Dense_1/kernel", {m, d});
  blk.fc2 = LinearLayer(Eigen::Map<const RowMatrixF>(k1.data.data(), m, d).transpose(),
                        r.vector(p + mlp + "/Dense_1/bias", d));
}

// llama.cpp's CLIP vision encoder (clip.cpp, mmproj files): HF CLIP/SigLIP renamed by its
// converters; sizes, eps and activation from the GGUF metadata (clip.use_gelu: ggml_gelu, the
// tanh approximation; else ggml_gelu_quick). The projector type names the tower
// (families/gguf_vision_tower): llava's CLIP, or Gemma 3's SigLIP (no class token, no pre-LN,
// v.post_ln; the same build_vit), others refused by name.
void readGguf(const Reader& r, const TensorSource& source, Build& b, std::int64_t d) {
  TransformerConfig& c = b.w.config;
  const auto* gguf = dynamic_cast<const GgufFile*>(&source);
  const GgufVisionTower tower =
      gguf ? ggufVisionTower(*gguf, r.path()) : GgufVisionTower{"llama.cpp CLIP (GGUF)", {}, false};
  c.family = tower.family;
  c.depth = r.countBlocks("v.blk.", '.');
  c.classToken = r.has("v.class_embd");
  c.preNorm = r.has("v.pre_ln.weight");
  c.finalNorm = r.has("v.post_ln.weight");
  c.layerNormEps = 1e-5f;
  c.activation = Activation::QuickGelu;
  c.resample = PositionResample::None;
  b.posName = "v.position_embd.weight";
  if (gguf) {
    // The same validator as the sidecars and the CLI (config_values.h): refused by name.
    try {
      if (const auto eps = gguf->metaNumber("clip.vision.attention.layer_norm_epsilon"))
        c.layerNormEps = layerNormEps(*eps, "clip.vision.attention.layer_norm_epsilon");
      if (const auto gelu = gguf->metaNumber("clip.use_gelu"); gelu && *gelu != 0)
        c.activation = Activation::GeluTanh;
      if (const auto heads = gguf->metaNumber("clip.vision.attention.head_count")) {
        b.heads = headCount(*heads, "clip.vision.attention.head_count");
        b.headsSource = "GGUF metadata clip.vision.attention.head_count";
      }
      // Gemma 3: the sizes its converter writes must be the tensors' (else refused by name).
      const auto agrees = [&](const char* key, std::int64_t value) {
        const auto stored = gguf->metaNumber(key);
        if (tower.gemma3 && stored && *stored != static_cast<double>(value))
          throw ConfigValueError(std::string(key) + " is " +
                                 (std::ostringstream() << *stored).str() +
                                 " but the tensors give " + std::to_string(value));
      };
      agrees("clip.vision.block_count", c.depth);
      agrees("clip.vision.embedding_length", d);
    } catch (const ConfigValueError& e) {
      throw Error(r.path(), std::string("GGUF metadata ") + e.what());
    }
  }
  if (c.classToken) b.w.prefixTokens = r.vector("v.class_embd", d).transpose();
  if (c.preNorm) b.w.preNorm = r.layerNorm("v.pre_ln.weight", "v.pre_ln.bias", d);
  if (c.finalNorm) b.w.finalNorm = r.layerNorm("v.post_ln.weight", "v.post_ln.bias", d);
}

void readGgufBlock(Reader& r, TransformerBlock& blk, const std::string& p, std::int64_t d) {
  static const char* const kQkv[3] = {"attn_q", "attn_k", "attn_v"};
  blk.norm1 = r.layerNorm(p + "ln1.weight", p + "ln1.bias", d);
  blk.qkv = stackedQkv(r, p, kQkv, ".weight", ".bias", d);
  blk.proj = linear(r, p + "attn_out.weight", p + "attn_out.bias", d, d);
  blk.norm2 = r.layerNorm(p + "ln2.weight", p + "ln2.bias", d);
  // The first MLP layer is the one that reads D: llava's old converter named fc1 "ffn_down"
  // (clip.cpp swaps them back by shape too); ffn_up when both read D (M == D).
  const Shape down = r.shape(p + "ffn_down.weight");
  const bool legacy = down.size() == 2 && down[1] == d && r.shape(p + "ffn_up.weight")[1] != d;
  const std::string first = legacy ? "ffn_down" : "ffn_up";
  const std::string second = legacy ? "ffn_up" : "ffn_down";
  const std::int64_t m = mlpWidth(r, p + first + ".weight", d, false);
  blk.fc1 = linear(r, p + first + ".weight", p + first + ".bias", m, d);
  blk.fc2 = linear(r, p + second + ".weight", p + second + ".bias", d, m);
}

// The position table, how many prefix tokens it covers and its native grid: the prefix-row
// count from the family's code (Build::positionPrefixCandidates), the grid from the sidecar's image
// size, else a square count; never a guessed factorisation or a count that merely fits.
void readPositions(const Reader& r, Build& b, std::int64_t d, const std::optional<Sidecar>& sidecar,
                   std::int64_t patch) {
  TransformerConfig& c = b.w.config;
  c.hasPositionEmbedding = !b.posName.empty() && r.has(b.posName);
  if (!c.hasPositionEmbedding) return;
  const Shape s = r.shape(b.posName);
  if (s.empty() || s.back() != d || product(s) % d != 0)
    r.fail(b.posName, "is " + shapeText(s) + ", expected [1, T, " + std::to_string(d) + "]");
  const std::int64_t rows = product(s) / d;
  const NpyArray a = r.read(b.posName, {});
  if (!r.shapesOnly()) b.w.positions = Eigen::Map<const RowMatrixF>(a.data.data(), rows, d);
  const int prefix = c.prefixTokens();
  std::vector<int> candidates = b.positionPrefixCandidates;
  if (candidates.empty()) candidates = {c.classToken ? 1 : 0};
  if (sidecar && sidecar->noEmbedClass && candidates.size() == 2)
    candidates = {*sidecar->noEmbedClass ? 0 : prefix};
  std::erase_if(candidates, [&](int p) { return p > prefix || p >= rows; });
  const auto rowsText = [&](int p) {
    return std::to_string(p) + " prefix row" + (p == 1 ? "" : "s") + " + " +
           std::to_string(rows - p) + " patches";
  };
  if (candidates.empty())
    r.fail(b.posName, "has " + std::to_string(rows) + " rows: too few for " +
                          std::to_string(prefix) + " prefix tokens and a grid");

  if (sidecar && sidecar->imageHeight > 0 && patch > 0) {
    const std::int64_t gh = sidecar->imageHeight / patch, gw = sidecar->imageWidth / patch;
    for (int p : candidates) {
      if (gh > 0 && gw > 0 && rows - p == gh * gw) {
        c.positionPrefixRows = p;
        c.nativeGridRows = static_cast<int>(gh);
        c.nativeGridCols = static_cast<int>(gw);
        c.nativeGridSource = sidecar->imageSizeKey;
        return;
      }
    }
    std::string allowed;
    for (int p : candidates) allowed += (allowed.empty() ? "" : " or ") + rowsText(p);
    r.fail(b.posName, "has " + std::to_string(rows) + " rows (" + allowed + "), but " +
                          sidecar->imageSizeKey + " " + std::to_string(sidecar->imageHeight) + "x" +
                          std::to_string(sidecar->imageWidth) + " gives a " + std::to_string(gh) +
                          " x " + std::to_string(gw) + " grid of " + std::to_string(patch) +
                          "-pixel patches");
  }
  std::vector<int> square, other;
  for (int p : candidates) (exactSquareRoot(rows - p) ? square : other).push_back(p);
  if (square.size() >= 2) {
    r.fail(b.posName, "has " + std::to_string(rows) + " rows: " + rowsText(square[0]) + " or " +
                          rowsText(square[1]) +
                          " (timm's no_embed_class); a config.json beside the file naming "
                          "model_args.no_embed_class or the image size decides");
  }
  if (square.size() == 1) {
    c.positionPrefixRows = square[0];
    c.nativeGridRows = c.nativeGridCols = exactSquareRoot(rows - square[0]);
    c.nativeGridSource = "a square table (no config.json names the image size)";
    if (!other.empty()) c.alternativePositionPrefixRows = other[0];
    return;
  }
  // A non-square patch count and no image size: the input's grid tells, when its count matches.
  c.positionPrefixRows = other[0];
  if (other.size() > 1) c.alternativePositionPrefixRows = other[1];
  c.nativeGridSource =
      "the input's grid (the table's patch count is not a square and no "
      "config.json names the image size)";
}

// The patch size P of the family's 4-D kernel (OIHW [D, C, P, P], Google's HWIO [P, P, C, D]).
std::int64_t patchSizeOfKernel(const Reader& r, const std::string& weight, const std::string& kf) {
  const Shape s = r.shape(weight);
  return s.size() == 4 ? (kf == "Google ViT (npz)" ? s[0] : s[2]) : 0;
}

// The family whose patch weight keys names, and the prefix before its name; null if none.
const PatchFamily* patchFamily(const WeightKeys& keys, std::string& prefix) {
  const PatchFamily* family = nullptr;
  for (const PatchFamily& f : kPatchFamilies) {
    const std::string suffix = f.weightSuffix;
    if (keys.family == f.keysFamily && keys.weight.size() >= suffix.size() &&
        keys.weight.compare(keys.weight.size() - suffix.size(), suffix.size(), suffix) == 0) {
      family = &f;
      prefix = keys.weight.substr(0, keys.weight.size() - suffix.size());
    }
  }
  return family;
}

std::string lookalikeOf(const TensorSource& source, const std::string& readerFamily,
                        const std::string& prefix) {
  std::vector<std::string> candidates;
  for (const TensorInfo& t : source.tensors()) {
    if (knownUnusedReason(readerFamily, prefix, t.name).empty()) candidates.push_back(t.name);
  }
  return lookalikeRefusal(readerFamily, candidates);
}

// Every tensor is consumed or known to be unused (with its reason, kept for `info`); any other is
// refused by name: a tensor the reader skips could change the numbers.
void checkEveryTensorUnderstood(const Reader& r, const std::string& path,
                                const std::string& readerFamily, const std::string& prefix,
                                TransformerConfig& c) {
  std::vector<std::pair<std::string, std::string>> unused;
  std::vector<std::string> unknown;
  for (const std::string& name : r.unconsumed()) {
    const std::string reason = knownUnusedReason(readerFamily, prefix, name);
    if (reason.empty()) {
      unknown.push_back(name);
    } else {
      unused.emplace_back(name, reason);
    }
  }
  if (!unknown.empty()) {
    std::string more;
    for (std::size_t i = 1; i < unknown.size() && i < 3; ++i)
      more += std::string(i == 1 ? "" : ", ") + "'" + unknown[i] + "'";
    if (unknown.size() > 3) more += " and " + std::to_string(unknown.size() - 3) + " more";
    throw Error(path, "tensor '" + unknown.front() + "' is not understood by the " + readerFamily +
                          " reader" + (more.empty() ? "" : " (nor " + more + ")"));
  }
  c.unusedTensors = groupUnused(unused);
}

}  // namespace

int standardHeadsForWidth(int width) {
  switch (width) {
    case 192:
      return 3;
    case 384:
      return 6;
    case 768:
      return 12;
    case 1024:
    case 1280:
      return 16;
    case 1536:
      return 24;
    default:
      return 0;
  }
}

std::string encoderRefusalByName(const TensorSource& source, const std::string& path,
                                 const WeightLoadOptions& patch) {
  if (source.format() == "npy") return {};
  if (std::string why = naflexRefusal(source); !why.empty()) return why;
  // NaFlex encoders run by their own readers (timm's and HF's namings): no conv to resolve.
  if (isTimmNaflexLayout(source) || isHfSiglip2Layout(source)) return {};
  const WeightKeys keys = resolveWeightKeys(source.tensors(), patch, path);
  std::string prefix;
  const PatchFamily* family = patchFamily(keys, prefix);
  if (!family) return {};
  if (std::string(family->keysFamily) == "timm ViT/DeiT/DINOv2" &&
      (isDinov3Layout(source, prefix) || isTimmDinov3Port(source, path, prefix) ||
       isTimmEvaArchitecture(path)))
    return {};                                                      // DINOv3's or eva.py's reader
  if (isBeitLayout(source, family->keysFamily, prefix)) return {};  // BEiT's own reader
  return lookalikeOf(source, family->keysFamily, prefix);
}

namespace {

// Before the family readers in families/ convert anything (a load, not a shapes-only
// description), the float32 copy of every tensor the headers list (a stride-0 or shared view
// counted at its full size) is held against the memory limit, so their weights are bounded by
// the file's headers as the generic reader's are by weightsPlan.
void checkHeaderWeightBudget(const TensorSource& source, const std::string& path,
                             const TransformerLoadOptions& options) {
  if (options.shapesOnly) return;  // nothing converted: `info` describes any size
  ResourcePlan plan;
  plan.command = "loading the encoder";
  for (const TensorInfo& t : source.tensors()) {
    double count = 1;
    for (std::int64_t d : t.shape) count *= static_cast<double>(d);
    plan.weightBytes += 4 * count;
  }
  checkResourcePlan(plan, {options.maxMemoryBytes, ~std::uint64_t{0}}, path);
}

}  // namespace

std::shared_ptr<const TransformerWeights> readTransformer(const TensorSource& source,
                                                          const std::string& path,
                                                          const TransformerLoadOptions& options,
                                                          std::string* whyNot) {
  const auto notTransformer = [&](std::string why) -> std::shared_ptr<const TransformerWeights> {
    if (whyNot) *whyNot = std::move(why);
    return nullptr;
  };
  if (source.format() == "npy") return notTransformer("a lone .npy array holds no blocks");
  // Hugging Face's DINOv3ViTModel (embeddings.patch_embeddings, layer.N.*): by its names or its
  // config.json's model_type, before the patch families (its conv has no family name of its own).
  if (std::string hfPrefix; isHfDinov3Layout(source, path, hfPrefix)) {
    checkHeaderWeightBudget(source, path, options);
    return readHfDinov3(source, path, hfPrefix, options);
  }
  if (isHfSiglip2Layout(source)) {  // HF Siglip2VisionModel: timm NaFlex's reader, renamed
    checkHeaderWeightBudget(source, path, options);
    return readHfSiglip2(source, path, options);
  }
  if (isTimmNaflexLayout(source)) {  // timm naflexvit.py: its own reader
    checkHeaderWeightBudget(source, path, options);
    return readTimmNaflex(source, path, options);
  }
  if (const std::string why = naflexRefusal(source); !why.empty()) throw Error(path, why);
  const WeightKeys keys = resolveWeightKeys(source.tensors(), options.patch, path);
  std::string prefix;
  const PatchFamily* family = patchFamily(keys, prefix);
  if (!family) {
    return notTransformer("the patch embedding '" + keys.weight + "' (" + keys.family +
                          ") belongs to no ViT family PatchLens knows the blocks of");
  }
  Reader r(source, path, prefix);
  r.setShapesOnly(options.shapesOnly);
  Build b;
  b.w.shapesOnly = options.shapesOnly;
  const std::string kf = family->keysFamily;
  // DINOv3 (Meta's names: storage_tokens, rope_embed.periods): its own reader, with RoPE.
  if (kf == "timm ViT/DeiT/DINOv2" &&
      (isDinov3Layout(source, prefix) || isTimmDinov3Port(source, path, prefix))) {
    checkHeaderWeightBudget(source, path, options);
    return readDinov3(source, path, prefix, options);
  }
  // timm eva.py (EVA-02, RoPE-ViT, ...): its config.json names the architecture.
  if (kf == "timm ViT/DeiT/DINOv2" && isTimmEvaArchitecture(path)) {
    checkHeaderWeightBudget(source, path, options);
    return readEva(source, path, prefix, options);
  }
  // BEiT / data2vec (a relative position bias table, timm or HF names): its own reader.
  if (isBeitLayout(source, kf, prefix)) {
    checkHeaderWeightBudget(source, path, options);
    return readBeit(source, path, kf, prefix, options);
  }
  if (kf == "timm ViT/DeiT/DINOv2") refuseTimmEvaLayout(source, path, prefix);
  // A family PatchLens does not run is refused by its own names before any of its tensors is
  // read as something looser (a DINOv3 .pth is not "timm DINOv2").
  if (const std::string why = lookalikeOf(source, kf, prefix); !why.empty()) throw Error(path, why);
  const std::int64_t d = [&] {
    const Shape s = r.shape(family->weightSuffix);
    return s.size() == 4 ? (kf == "Google ViT (npz)" ? s[3] : s[0]) : std::int64_t{0};
  }();
  if (d <= 0) r.fail(family->weightSuffix, "is not a 4-D patch-embedding kernel");
  const bool google = kf == "Google ViT (npz)";
  const std::string blockStem = kf == "llama.cpp CLIP (GGUF)"      ? "v.blk."
                                : kf == "timm ViT/DeiT/DINOv2"     ? "blocks."
                                : kf == "Hugging Face ViT"         ? "encoder.layer."
                                : kf == "Hugging Face CLIP/SigLIP" ? "vision_model.encoder.layers."
                                : kf == "OpenAI CLIP"              ? "visual.transformer.resblocks."
                                : kf == "torchvision ViT"          ? "encoder.layers.encoder_layer_"
                                                                   : "Transformer/encoderblock_";
  if (r.countBlocks(blockStem, google ? '/' : '.') == 0) {
    return notTransformer("no transformer blocks: the file has the " + keys.family +
                          " patch embedding but no '" + prefix + blockStem + "0" +
                          (google ? "/" : ".") + "...' tensors");
  }
  if (kf == "timm ViT/DeiT/DINOv2") {
    readTimm(r, b, d);
  } else if (kf == "Hugging Face ViT") {
    readHfVit(r, b, d);
  } else if (kf == "Hugging Face CLIP/SigLIP") {
    readHfClip(r, b, d);
  } else if (kf == "OpenAI CLIP") {
    readOpenAiClip(r, b, d);
  } else if (kf == "torchvision ViT") {
    readTorchvision(r, b, d);
  } else if (kf == "llama.cpp CLIP (GGUF)") {
    readGguf(r, source, b, d);
  } else {
    readGoogle(r, b, d);
  }
  TransformerConfig& c = b.w.config;
  c.embedDim = static_cast<int>(d);

  const std::optional<Sidecar> sidecar = readSidecar(path, c.embedDim);
  if (sidecar && sidecar->eps) c.layerNormEps = *sidecar->eps;
  if (sidecar && !sidecar->activation.empty()) {
    if (const auto act = activationFromName(sidecar->activation)) c.activation = *act;
  }

  b.w.blocks.resize(static_cast<std::size_t>(c.depth));
  const bool dinov2 = c.family.rfind("HF Dinov2", 0) == 0;
  for (int i = 0; i < c.depth; ++i) {
    r.setContext("block " + std::to_string(i + 1) + " of " + std::to_string(c.depth));
    const std::string p = blockStem + std::to_string(i) + (google ? "/" : ".");
    TransformerBlock& blk = b.w.blocks[static_cast<std::size_t>(i)];
    if (kf == "timm ViT/DeiT/DINOv2") {
      readTimmBlock(r, blk, p, d, c.layerScale);
    } else if (kf == "Hugging Face ViT") {
      readHfVitBlock(r, blk, p, d, dinov2);
    } else if (kf == "Hugging Face CLIP/SigLIP") {
      readHfClipBlock(r, blk, p, d);
    } else if (kf == "OpenAI CLIP") {
      readInProjBlock(r, blk, p, d, "attn", "mlp.c_fc", "mlp.c_proj");
    } else if (kf == "llama.cpp CLIP (GGUF)") {
      readGgufBlock(r, blk, p, d);
    } else if (kf == "torchvision ViT") {
      const bool numbered = r.has(p + "mlp.0.weight");
      readInProjBlock(r, blk, p, d, "self_attention", numbered ? "mlp.0" : "mlp.linear_1",
                      numbered ? "mlp.3" : "mlp.linear_2");
    } else {
      int heads = 0;
      readGoogleBlock(r, blk, p, d, heads);
      if (b.heads != 0 && heads != b.heads)
        r.fail(p + "MultiHeadDotProductAttention_1/query/kernel", "disagrees on the head count");
      b.heads = heads;
      b.headsSource = "the query kernel's shape [D, heads, D / heads]";
    }
    if (i == 0) c.mlpDim = blk.fc1.outputs();
    if (blk.fc1.outputs() != c.mlpDim) r.fail(p + "...", "has another MLP width than block 1");
  }
  r.setContext({});
  readPositions(r, b, d, sidecar, patchSizeOfKernel(r, family->weightSuffix, kf));
  r.markConsumed(keys.weight);
  if (!keys.bias.empty()) r.markConsumed(keys.bias);
  checkEveryTensorUnderstood(r, path, kf, prefix, c);

  // Heads: --heads, then what the file's own layout fixes, then the sidecar, then a guess.
  if (options.heads > 0) {
    c.numHeads = options.heads;
    c.headsSource = "--heads";
  } else if (b.heads > 0) {
    c.numHeads = b.heads;
    c.headsSource = b.headsSource;
  } else if (sidecar && sidecar->heads > 0) {
    c.numHeads = sidecar->heads;
    c.headsSource = "config.json " + sidecar->headsKey;
  } else if (const int guess = standardHeadsForWidth(c.embedDim)) {
    c.numHeads = guess;
    c.headsGuessed = true;
    c.headsSource = "guess from width " + std::to_string(c.embedDim);
  } else {
    throw Error(path, "cannot tell the number of attention heads of this " + c.family + " (width " +
                          std::to_string(c.embedDim) +
                          " is no standard ViT width and no config.json beside the file names "
                          "num_attention_heads); pass --heads N");
  }
  if (c.embedDim % c.numHeads != 0) {
    throw Error(path, std::to_string(c.numHeads) + " heads (" + c.headsSource +
                          ") do not divide the width " + std::to_string(c.embedDim));
  }

  PatchWeights patch = loadPatchWeights(path, options.patch);
  c.patchSize = patch.patchSize;
  c.inChannels = patch.inChannels;
  b.w.patchEmbedding = std::make_shared<const PatchEmbedding>(std::move(patch));
  return std::make_shared<const TransformerWeights>(std::move(b.w));
}

}  // namespace patchlens
