#pragma once

#include <string>
#include <vector>

#include "core/weights/tensor_source.h"
#include "core/weights/weight_loader.h"

namespace patchlens {

// How a patch-embedding kernel is stored: PyTorch's Conv2d [D, C, P, P] or Flax/JAX [P, P, C, D].
enum class KernelLayout { Oihw, Hwio };

// Which tensors of a weight file make up the patch embedding, and why those.
struct WeightKeys {
  std::string family;  // e.g. "timm ViT/DeiT/DINOv2"; "explicit --key"; "the only 4-D tensor"
  std::string weight;
  KernelLayout layout = KernelLayout::Oihw;
  std::string bias;               // empty: the layer has no bias
  std::string positionEmbedding;  // empty: none in the file
  std::string classToken;         // empty: none in the file
  int extraPrefixTokens = 0;      // distillation-token rows after the class row (DeiT distilled)
  std::string why;                // one sentence for `info`
};

// Finds the patch embedding among tensors by the names of the known families (design.md,
// "Weight files"), under any prefix ("module.", "vit.", "opt/target/", ...), or takes
// options.key / options.biasKey. A file with several candidates is refused with an Error
// that lists them; so is a file with none.
WeightKeys resolveWeightKeys(const std::vector<TensorInfo>& tensors,
                             const WeightLoadOptions& options, const std::string& file);

}  // namespace patchlens
