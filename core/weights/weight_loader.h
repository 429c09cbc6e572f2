#pragma once

#include <string>
#include <vector>

#include "core/weights/patch_weights.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// Which tensors to take from a weight file; empty keys mean "find them by name".
struct WeightLoadOptions {
  std::string key;      // the patch-embedding weight, e.g. patch_embed.proj.weight
  std::string biasKey;  // its bias
};

// Loads the patch embedding (and position embedding / class token when present) from a
// .safetensors, .npy or .npz file. Throws Error(path, reason) for anything malformed,
// ambiguous or unsupported.
PatchWeights loadPatchWeights(const std::string& path, const WeightLoadOptions& options = {});

// Every tensor in the file and what PatchLens would use, for `patchlens-cli info`.
struct WeightFileInfo {
  std::string format;  // "safetensors", "npy", "npz", "pytorch zip", "torchscript", "gguf v3", ...
  std::vector<TensorInfo> tensors;
  std::vector<std::string> details;  // container lines: nested state dict used, GGUF metadata
  std::string usage;    // human-readable: which tensors would be used and why, or why none
  std::string family;   // the layout recognised ("timm ViT/DeiT/DINOv2", ...), empty when none
  bool usable = false;  // loadPatchWeights would succeed with these options
};

// Throws for a malformed container (bad header, bad zip); a file whose tensors are fine but
// unusable (ambiguous, wrong shapes, non-finite values) is described in usage instead.
WeightFileInfo inspectWeightFile(const std::string& path, const WeightLoadOptions& options = {});

// True when the file's content (not its name) looks like a weight file we read.
bool looksLikeWeightFile(const std::string& path);

}  // namespace patchlens
