#include "core/model/heads/classifier_head.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/io/error.h"
#include "core/model/families/eva_reader.h"
#include "core/weights/shape_text.h"
#include "core/weights/weight_keys.h"

namespace patchlens {
namespace {

using Shape = std::vector<std::int64_t>;

// Head tensors are read under `root` (the checkpoint's top level, above an HF base-model
// attribute such as "vit."); every refusal names the tensor.
class HeadReader {
 public:
  HeadReader(const TensorSource& source, std::string path, std::string root)
      : m_source(source), m_path(std::move(path)), m_root(std::move(root)) {}

  bool has(const std::string& name) const { return m_source.find(m_root + name) != nullptr; }
  const std::string& root() const { return m_root; }
  bool hasPrefix(const std::string& stem) const {
    for (const TensorInfo& t : m_source.tensors())
      if (t.name.rfind(m_root + stem, 0) == 0) return true;
    return false;
  }
  [[noreturn]] void fail(const std::string& name, const std::string& why) const {
    throw Error(m_path, "tensor '" + m_root + name + "' " + why);
  }
  Shape shape(const std::string& name) const {
    const TensorInfo* t = m_source.find(m_root + name);
    if (!t) fail(name, "is missing");
    return t->shape;
  }
  NpyArray read(const std::string& name) const {
    NpyArray a = m_source.read(m_root + name);
    for (float v : a.data)
      if (!std::isfinite(v)) fail(name, "holds non-finite values (NaN or Inf)");
    return a;
  }
  // A matrix stored [rows, cols] (torch) or, when `flax`, [cols, rows] (a Dense kernel).
  RowMatrixF matrix(const std::string& name, std::int64_t rows, std::int64_t cols,
                    bool flax = false) const {
    const Shape s = shape(name);
    const Shape want = flax ? Shape{cols, rows} : Shape{rows, cols};
    if (s != want) fail(name, "is " + shapeText(s) + ", expected " + shapeText(want));
    const NpyArray a = read(name);
    if (flax) return Eigen::Map<const RowMatrixF>(a.data.data(), cols, rows).transpose();
    return Eigen::Map<const RowMatrixF>(a.data.data(), rows, cols);
  }
  VectorF vector(const std::string& name, std::int64_t n) const {
    const Shape s = shape(name);
    if (s != Shape{n}) fail(name, "is " + shapeText(s) + ", expected [" + std::to_string(n) + "]");
    const NpyArray a = read(name);
    return Eigen::Map<const VectorF>(a.data.data(), n);
  }
  VectorF optionalVector(const std::string& name, std::int64_t n) const {
    return has(name) ? vector(name, n) : VectorF::Zero(n);
  }
  // The output count of a linear layer [C, in] (or a Flax kernel [in, C]) reading `in`.
  std::int64_t outputsOf(const std::string& name, std::int64_t in, bool flax = false) const {
    const Shape s = shape(name);
    if (s.size() != 2 || s[flax ? 0 : 1] != in || s[flax ? 1 : 0] < 1)
      fail(name,
           "is " + shapeText(s) + ", expected " +
               (flax ? "[" + std::to_string(in) + ", C]" : "[C, " + std::to_string(in) + "]"));
    return s[flax ? 1 : 0];
  }

 private:
  const TensorSource& m_source;
  std::string m_path;
  std::string m_root;
};

// config.json beside the weights, when it parses as an object.
nlohmann::json readSidecar(const std::string& weightsPath) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path file = fs::path(weightsPath).parent_path() / "config.json";
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > (std::uintmax_t{16} << 20))
    return {};
  std::ifstream in(file);
  nlohmann::json root = nlohmann::json::parse(in, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return {};
  return root;
}

std::string sidecarString(const nlohmann::json& j, const char* key) {
  for (const nlohmann::json* scope :
       {&j, j.contains("model_args") ? &j["model_args"] : nullptr,
        j.contains("pretrained_cfg") ? &j["pretrained_cfg"] : nullptr}) {
    if (scope && scope->is_object() && scope->contains(key) && (*scope)[key].is_string())
      return (*scope)[key].get<std::string>();
  }
  return {};
}

// HF id2label {"0": "tench", ...} or timm's label_names [...], when they name every class.
std::vector<std::string> sidecarLabels(const nlohmann::json& j, int classes) {
  std::vector<std::string> labels(static_cast<std::size_t>(classes));
  if (j.contains("id2label") && j["id2label"].is_object() &&
      j["id2label"].size() == static_cast<std::size_t>(classes)) {
    for (const auto& [key, value] : j["id2label"].items()) {
      int index = -1;
      try {
        std::size_t used = 0;
        index = std::stoi(key, &used);
        if (used != key.size()) index = -1;
      } catch (const std::exception&) {
        index = -1;
      }
      if (index < 0 || index >= classes || !value.is_string()) return {};
      labels[static_cast<std::size_t>(index)] = value.get<std::string>();
    }
    return labels;
  }
  for (const nlohmann::json* scope :
       {&j, j.contains("pretrained_cfg") ? &j["pretrained_cfg"] : nullptr}) {
    if (scope && scope->is_object() && scope->contains("label_names") &&
        (*scope)["label_names"].is_array() &&
        (*scope)["label_names"].size() == static_cast<std::size_t>(classes)) {
      for (int i = 0; i < classes; ++i) {
        const auto& v = (*scope)["label_names"][static_cast<std::size_t>(i)];
        if (!v.is_string()) return {};
        labels[static_cast<std::size_t>(i)] = v.get<std::string>();
      }
      return labels;
    }
  }
  return {};
}

void setDefaultLabels(ClassifierHead& head, const nlohmann::json& sidecar) {
  const int classes = head.classes();
  head.labels = sidecarLabels(sidecar, classes);
  if (!head.labels.empty()) {
    head.labelsSource = "config.json";
  } else if (classes == 1000) {
    head.labels = imagenet1kLabels();
    head.labelsSource = "ImageNet-1k class names (torchvision's list)";
  } else {
    for (int i = 0; i < classes; ++i) head.labels.push_back("class " + std::to_string(i));
    head.labelsSource = "none: classes are numbered";
  }
}

// The checkpoint's top level above the encoder: HF classification models keep the encoder
// under an attribute ("vit.", "dinov2.", "deit.") and the classifier beside it.
std::string parentPrefix(const std::string& prefix) {
  if (prefix.empty()) return prefix;
  const std::size_t dot = prefix.find_last_of('.', prefix.size() - 2);
  return dot == std::string::npos ? std::string() : prefix.substr(0, dot + 1);
}

// LayerNorm of one vector and, for the backward, its normalised values and 1 / std.
VectorF normVector(const VectorF& x, const LayerNormWeights& n, float eps, VectorF* hat,
                   float* inverseStd) {
  const float mean = x.mean();
  const float variance = (x.array() - mean).square().mean();
  const float scale = 1.0f / std::sqrt(variance + eps);
  const VectorF normalised = ((x.array() - mean) * scale).matrix();
  if (hat) *hat = normalised;
  if (inverseStd) *inverseStd = scale;
  return (normalised.array() * n.weight.array() + n.bias.array()).matrix();
}

}  // namespace

VectorF ClassifierHead::logits(const RowMatrixF& final, const TransformerConfig& config) const {
  const Eigen::Index prefix = config.prefixTokens();
  const Eigen::Index patches = final.rows() - prefix;
  VectorF pooled;
  switch (pooling) {
    case HeadPooling::ClassToken:
    case HeadPooling::ClassAndDistillation:
      pooled = final.row(0).transpose();
      break;
    case HeadPooling::PatchMean:
      pooled = final.bottomRows(patches).colwise().mean().transpose();
      break;
    case HeadPooling::ClassAndPatchMean:
      pooled.resize(2 * final.cols());
      pooled << final.row(0).transpose(), final.bottomRows(patches).colwise().mean().transpose();
      break;
    case HeadPooling::AllTokensMean:
      pooled = final.colwise().mean().transpose();
      break;
  }
  if (hasFcNorm) pooled = normVector(pooled, fcNorm, fcNormEps, nullptr, nullptr);
  if (preLogitsWeight.size() > 0)
    pooled = (preLogitsWeight * pooled + preLogitsBias).array().tanh().matrix();
  VectorF out = weight * pooled + bias;
  if (pooling == HeadPooling::ClassAndDistillation) {
    const VectorF dist = distillationWeight * final.row(1).transpose() + distillationBias;
    out = (out + dist) * 0.5f;
  }
  return out;
}

RowMatrixF ClassifierHead::backward(const RowMatrixF& final, const TransformerConfig& config,
                                    const VectorF& gradLogits) const {
  const Eigen::Index prefix = config.prefixTokens();
  const Eigen::Index patches = final.rows() - prefix;
  const Eigen::Index d = final.cols();
  RowMatrixF grad = RowMatrixF::Zero(final.rows(), d);
  const float share = pooling == HeadPooling::ClassAndDistillation ? 0.5f : 1.0f;
  // Forward again up to the pooled vector: the head is tiny next to the encoder.
  VectorF pooled;
  switch (pooling) {
    case HeadPooling::ClassToken:
    case HeadPooling::ClassAndDistillation:
      pooled = final.row(0).transpose();
      break;
    case HeadPooling::PatchMean:
      pooled = final.bottomRows(patches).colwise().mean().transpose();
      break;
    case HeadPooling::ClassAndPatchMean:
      pooled.resize(2 * d);
      pooled << final.row(0).transpose(), final.bottomRows(patches).colwise().mean().transpose();
      break;
    case HeadPooling::AllTokensMean:
      pooled = final.colwise().mean().transpose();
      break;
  }
  VectorF hat;
  float inverseStd = 0;
  VectorF normed = pooled;
  if (hasFcNorm) normed = normVector(pooled, fcNorm, fcNormEps, &hat, &inverseStd);
  VectorF g = weight.transpose() * (gradLogits * share);
  if (preLogitsWeight.size() > 0) {
    const VectorF r = (preLogitsWeight * normed + preLogitsBias).array().tanh().matrix();
    g = preLogitsWeight.transpose() * (g.array() * (1.0f - r.array().square())).matrix();
  }
  if (hasFcNorm) {
    const Eigen::ArrayXf gh = g.array() * fcNorm.weight.array();
    g = (inverseStd * (gh - gh.mean() - hat.array() * (gh * hat.array()).mean())).matrix();
  }
  switch (pooling) {
    case HeadPooling::ClassToken:
      grad.row(0) = g.transpose();
      break;
    case HeadPooling::ClassAndDistillation:
      grad.row(0) = g.transpose();
      grad.row(1) = (distillationWeight.transpose() * (gradLogits * share)).transpose();
      break;
    case HeadPooling::PatchMean:
      grad.bottomRows(patches).rowwise() = g.transpose() / static_cast<float>(patches);
      break;
    case HeadPooling::ClassAndPatchMean:
      grad.row(0) = g.head(d).transpose();
      grad.bottomRows(patches).rowwise() = g.tail(d).transpose() / static_cast<float>(patches);
      break;
    case HeadPooling::AllTokensMean:
      grad.rowwise() = g.transpose() / static_cast<float>(final.rows());
      break;
  }
  return grad;
}

std::optional<ClassifierHead> readClassifierHead(const TensorSource& source,
                                                 const std::string& path,
                                                 const TransformerConfig& config,
                                                 const WeightLoadOptions& patchOptions,
                                                 std::string* whyNot) {
  const auto none = [&](std::string why) -> std::optional<ClassifierHead> {
    if (whyNot) *whyNot = std::move(why);
    return std::nullopt;
  };
  const WeightKeys keys = resolveWeightKeys(source.tensors(), patchOptions, path);
  // timm's Beit and Eva (EVA-02, RoPE ViTs) share VisionTransformer's head: pool (global_pool
  // 'avg' by default: the patch mean, then fc_norm; 'token': norm(x)[:, 0]), head. HF's
  // BeitForImageClassification / Data2VecVisionForImageClassification: below, with HF ViT.
  if (config.family.rfind("Meta DINOv3", 0) == 0)
    return none("Meta's DINOv3 layout is a backbone without a classifier head");
  const std::int64_t d = config.embedDim;
  const nlohmann::json sidecar = readSidecar(path);
  ClassifierHead head;
  const auto suffixOf = [&](const std::string& suffix) {
    return keys.weight.size() >= suffix.size() &&
                   keys.weight.compare(keys.weight.size() - suffix.size(), suffix.size(), suffix) ==
                       0
               ? keys.weight.substr(0, keys.weight.size() - suffix.size())
               : std::string();
  };
  if (keys.family == "timm ViT/DeiT/DINOv2") {
    // timm VisionTransformer.forward_head: pool (global_pool), fc_norm, head;
    // VisionTransformerDistilled: (head(x[:, 0]) + head_dist(x[:, 1])) / 2.
    const HeadReader r(source, path, suffixOf("patch_embed.proj.weight"));
    if (r.hasPrefix("attn_pool."))
      r.fail("attn_pool.*",
             "is an attention-pooling head (global_pool='map'), which PatchLens "
             "does not run");
    if (!r.has("head.weight")) return none("the timm checkpoint has no 'head.weight'");
    const std::int64_t c = r.outputsOf("head.weight", d);
    head.weight = r.matrix("head.weight", c, d);
    head.bias = r.optionalVector("head.bias", c);
    head.hasFcNorm = r.has("fc_norm.weight");
    if (head.hasFcNorm) {
      head.fcNorm = {r.vector("fc_norm.weight", d), r.vector("fc_norm.bias", d)};
      head.fcNormEps = config.layerNormEps;
    }
    std::string pool = sidecarString(sidecar, "global_pool");
    if (pool.empty() && sidecar.contains("model_args") && sidecar["model_args"].is_object() &&
        sidecar["model_args"].contains("global_pool") &&
        sidecar["model_args"]["global_pool"].is_string())
      pool = sidecar["model_args"]["global_pool"].get<std::string>();
    // eva.py's default pooling differs per architecture (token for the EVA-02 CLIP and PE
    // towers, avg for EVA-02 and the DINOv3 port, map for some PE) and is not tied to fc_norm:
    // without global_pool the head would be a guess, so it is refused by name. In
    // VisionTransformer and Beit fc_norm is there exactly when they pool the average.
    if (pool.empty() && isTimmEvaArchitecture(path))
      throw Error(path,
                  "config.json names no global_pool, and timm's eva.py pools differently "
                  "per architecture (token, avg or map): add \"global_pool\": \"token\" or "
                  "\"avg\" as the model was trained");
    if (pool.empty()) pool = head.hasFcNorm || !config.classToken ? "avg" : "token";
    if (r.has("head_dist.weight")) {
      if (!config.distillationToken) r.fail("head_dist.weight", "needs a distillation token");
      head.pooling = HeadPooling::ClassAndDistillation;
      head.distillationWeight = r.matrix("head_dist.weight", c, d);
      head.distillationBias = r.optionalVector("head_dist.bias", c);
      head.description = "timm (head(norm(x)[:, 0]) + head_dist(norm(x)[:, 1])) / 2";
    } else if (pool == "token") {
      if (!config.classToken) r.fail("head.weight", "pools the class token, which is missing");
      head.pooling = HeadPooling::ClassToken;
      head.description =
          head.hasFcNorm ? "timm head(fc_norm(x[:, 0]))" : "timm head(norm(x)[:, 0])";
    } else if (pool == "avg") {
      head.pooling = HeadPooling::PatchMean;
      head.description = std::string("timm head(") + (head.hasFcNorm ? "fc_norm(" : "(") +
                         "mean of the patch tokens))";
    } else {
      throw Error(path, "config.json global_pool '" + pool +
                            "' is a pooling PatchLens does not run (token and avg are)");
    }
  } else if (keys.family == "Hugging Face ViT") {
    const std::string encoder = suffixOf("embeddings.patch_embeddings.projection.weight");
    const HeadReader r(source, path, parentPrefix(encoder));
    if (r.has("cls_classifier.weight") && r.has("distillation_classifier.weight")) {
      // DeiTForImageClassificationWithTeacher.
      if (!config.distillationToken)
        r.fail("distillation_classifier.weight", "needs a distillation token");
      const std::int64_t c = r.outputsOf("cls_classifier.weight", d);
      head.weight = r.matrix("cls_classifier.weight", c, d);
      head.bias = r.optionalVector("cls_classifier.bias", c);
      head.distillationWeight = r.matrix("distillation_classifier.weight", c, d);
      head.distillationBias = r.optionalVector("distillation_classifier.bias", c);
      head.pooling = HeadPooling::ClassAndDistillation;
      head.description = "HF (cls_classifier(x[:, 0]) + distillation_classifier(x[:, 1])) / 2";
    } else if (!config.relativePositionBias.empty() && r.has("classifier.weight")) {
      // BeitPooler (modeling_beit.py; Data2VecVisionPooler is the same): use_mean_pooling ->
      // layernorm(hidden_states[:, 1:].mean(1)) with BeitModel's final layernorm an Identity;
      // else hidden_states[:, 0] after that layernorm. Then classifier.
      const std::string pooler = encoder.substr(r.root().size()) + "pooler.layernorm.";
      const std::int64_t c = r.outputsOf("classifier.weight", d);
      head.weight = r.matrix("classifier.weight", c, d);
      head.bias = r.optionalVector("classifier.bias", c);
      head.hasFcNorm = r.has(pooler + "weight");
      if (head.hasFcNorm) {
        if (config.finalNorm)
          r.fail(pooler + "weight",
                 "is BeitPooler's mean-pooling norm, but the encoder also has "
                 "its final layernorm (use_mean_pooling makes it an Identity)");
        head.fcNorm = {r.vector(pooler + "weight", d), r.vector(pooler + "bias", d)};
        head.fcNormEps = config.layerNormEps;
        head.pooling = HeadPooling::PatchMean;
        head.description = "HF classifier(pooler.layernorm(mean of patch tokens))";
      } else {
        head.pooling = HeadPooling::ClassToken;
        head.description = "HF classifier(layernorm(x)[:, 0])";
      }
    } else if (r.has("classifier.weight")) {
      // The input width tells the pooling apart: D (ViT, DeiT) or 2D (Dinov2's cls + mean).
      const Shape s = r.shape("classifier.weight");
      const bool clsAndMean = s.size() == 2 && s[1] == 2 * d;
      const std::int64_t in = clsAndMean ? 2 * d : d;
      const std::int64_t c = r.outputsOf("classifier.weight", in);
      head.weight = r.matrix("classifier.weight", c, in);
      head.bias = r.optionalVector("classifier.bias", c);
      head.pooling = clsAndMean ? HeadPooling::ClassAndPatchMean : HeadPooling::ClassToken;
      head.description = clsAndMean ? "HF classifier(cat(layernorm(x)[:, 0], mean of patch tokens))"
                                    : "HF classifier(layernorm(x)[:, 0])";
    } else {
      return none("the Hugging Face checkpoint has no 'classifier.weight' (a base model)");
    }
  } else if (keys.family == "torchvision ViT") {
    // torchvision VisionTransformer: x[:, 0] -> heads (head, or pre_logits, Tanh, head).
    const HeadReader r(source, path, suffixOf("conv_proj.weight"));
    if (!r.has("heads.head.weight")) return none("the torchvision checkpoint has no 'heads.head'");
    std::int64_t in = d;
    if (r.has("heads.pre_logits.weight")) {
      in = r.outputsOf("heads.pre_logits.weight", d);
      head.preLogitsWeight = r.matrix("heads.pre_logits.weight", in, d);
      head.preLogitsBias = r.optionalVector("heads.pre_logits.bias", in);
    }
    const std::int64_t c = r.outputsOf("heads.head.weight", in);
    head.weight = r.matrix("heads.head.weight", c, in);
    head.bias = r.optionalVector("heads.head.bias", c);
    head.pooling = HeadPooling::ClassToken;
    head.description = head.preLogitsWeight.size() > 0
                           ? "torchvision heads.head(tanh(heads.pre_logits(ln(x)[:, 0])))"
                           : "torchvision heads.head(ln(x)[:, 0])";
  } else if (keys.family == "Google ViT (npz)") {
    // vit_jax VisionTransformer: 'token' (cls) or 'gap', optional pre_logits + tanh, head.
    const HeadReader r(source, path, suffixOf("embedding/kernel"));
    if (!r.has("head/kernel")) return none("the npz has no 'head/kernel'");
    std::int64_t in = d;
    if (r.has("pre_logits/kernel")) {
      in = r.outputsOf("pre_logits/kernel", d, true);
      head.preLogitsWeight = r.matrix("pre_logits/kernel", in, d, true);
      head.preLogitsBias = r.optionalVector("pre_logits/bias", in);
    }
    const std::int64_t c = r.outputsOf("head/kernel", in, true);
    head.weight = r.matrix("head/kernel", c, in, true);
    head.bias = r.optionalVector("head/bias", c);
    head.pooling = config.classToken ? HeadPooling::ClassToken : HeadPooling::AllTokensMean;
    head.description = config.classToken ? "vit_jax head(encoder_norm(x)[:, 0])"
                                         : "vit_jax head(mean of encoder_norm(x))";
  } else {
    return none("a " + config.family +
                " holds an image encoder without a classifier head (CLIP/SigLIP towers are "
                "matched to text, not classified)");
  }
  if (config.prefixTokens() == 0 && head.pooling != HeadPooling::PatchMean &&
      head.pooling != HeadPooling::AllTokensMean)
    throw Error(path, "the head pools the class token but the encoder has none");
  setDefaultLabels(head, sidecar);
  return head;
}

void setLabelsFromFile(ClassifierHead& head, const std::string& labelsPath) {
  std::ifstream in(labelsPath);
  if (!in) throw Error(labelsPath, "cannot open the labels file");
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line) && labels.size() <= static_cast<std::size_t>(head.classes())) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  if (labels.size() != static_cast<std::size_t>(head.classes()))
    throw Error(labelsPath,
                "has " + std::to_string(labels.size()) +
                    (labels.size() > static_cast<std::size_t>(head.classes()) ? " or more" : "") +
                    " labels, the head has " + std::to_string(head.classes()) +
                    " classes (one label per line)");
  head.labels = std::move(labels);
  head.labelsSource = labelsPath;
}

VectorF softmax(const VectorF& logits) {
  // In double: probabilities of 1e-30 next to 1 still come out right.
  const Eigen::ArrayXd z = logits.cast<double>().array() - static_cast<double>(logits.maxCoeff());
  const Eigen::ArrayXd e = z.exp();
  return (e / e.sum()).cast<float>().matrix();
}

}  // namespace patchlens
