#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/model/eigen_types.h"
#include "core/model/transformer_block.h"
#include "core/model/transformer_config.h"
#include "core/weights/tensor_source.h"
#include "core/weights/weight_loader.h"

namespace patchlens {

// Which tokens of the encoder's final output feed the classifier, per family.
enum class HeadPooling {
  ClassToken,            // final[0]: timm global_pool='token', HF ViT, torchvision, Google
  PatchMean,             // mean of the patch rows (prefix dropped): timm global_pool='avg'
  ClassAndPatchMean,     // cat(final[0], mean of patch rows): HF Dinov2ForImageClassification
  ClassAndDistillation,  // (head(final[0]) + head_dist(final[1])) / 2: timm / HF distilled DeiT
  AllTokensMean,         // mean of every token: Google vit_jax classifier='gap' without cls
};

// A ViT classifier head as its family computes it from the encoder's final tokens:
// logits = W (tanh(W_pre fcNorm(pool(final)) + b_pre)) + b, each stage only when present.
struct ClassifierHead {
  std::string description;  // e.g. "timm head(norm(x)[:, 0])", for messages and info
  HeadPooling pooling = HeadPooling::ClassToken;
  bool hasFcNorm = false;  // timm fc_norm
  LayerNormWeights fcNorm;
  float fcNormEps = 1e-6f;
  RowMatrixF preLogitsWeight;  // [R x in], empty when none (torchvision / vit_jax pre_logits)
  VectorF preLogitsBias;
  RowMatrixF weight;              // [C x in]
  VectorF bias;                   // [C]
  RowMatrixF distillationWeight;  // [C x D], ClassAndDistillation only
  VectorF distillationBias;
  std::vector<std::string> labels;  // C names: id2label, --labels, ImageNet-1k or "class K"
  std::string labelsSource;

  int classes() const { return static_cast<int>(weight.rows()); }
  // logits [C] from final [T x D] (token order of TransformerOutput).
  VectorF logits(const RowMatrixF& final, const TransformerConfig& config) const;
  // d(gradLogits . logits) / d final: [T x D] for the given d/dlogits [C].
  RowMatrixF backward(const RowMatrixF& final, const TransformerConfig& config,
                      const VectorF& gradLogits) const;
};

// The head of a checkpoint whose encoder `config` describes (as readTransformer read it from
// the same source); nullopt with *whyNot when the checkpoint holds none. Throws Error naming a
// head tensor of a shape the family's code would not accept, or a head PatchLens cannot run.
// Labels: config.json id2label beside the file, else ImageNet-1k for 1000 classes, else
// "class K"; setLabelsFromFile overrides them (--labels).
// patchOptions: the --key / --bias-key the encoder was read with.
std::optional<ClassifierHead> readClassifierHead(const TensorSource& source,
                                                 const std::string& path,
                                                 const TransformerConfig& config,
                                                 const WeightLoadOptions& patchOptions,
                                                 std::string* whyNot);

// softmax(logits), computed in double.
VectorF softmax(const VectorF& logits);

// One label per line; throws Error when the count differs from the head's classes.
void setLabelsFromFile(ClassifierHead& head, const std::string& labelsPath);

// The 1000 ImageNet-1k class names (resources/imagenet1k_labels.txt, embedded at build time).
const std::vector<std::string>& imagenet1kLabels();

}  // namespace patchlens
