#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/image/preprocess.h"

namespace patchlens {

// Which preprocessing fields the user set explicitly (CLI options, GUI choices): those win
// over what a checkpoint brings.
struct PreprocessOverrides {
  bool size = false;
  bool resize = false;
  bool cropPct = false;
  bool interpolation = false;
  bool normalization = false;
};

// The preprocessing a checkpoint brings with it: a timm `config.json` (pretrained_cfg), a
// Hugging Face `preprocessor_config.json` beside the file, or GGUF metadata in it. Only the
// fields the source sets are present.
struct ModelPreprocessing {
  std::string source;  // "config.json (timm pretrained_cfg)", ...
  std::optional<int> height;
  std::optional<int> width;
  std::optional<ResizeMode> resize;
  std::optional<double> cropPct;
  std::optional<Interpolation> interpolation;
  std::optional<Normalization> normalization;
  // ResizeMode::MaxPatches (Siglip2ImageProcessor): max_num_patches and patch_size.
  std::optional<int> maxPatches;
  std::optional<int> patchSize;
  // Images refused for this model, whatever the options (PreprocessConfig::imageRefusal).
  std::string imageRefusal;

  // config with the fields this source sets, except those the user set explicitly.
  PreprocessConfig applyTo(PreprocessConfig config, const PreprocessOverrides& given = {}) const;
  // "preprocessing from config.json (timm pretrained_cfg): 384 x 384, crop, crop-pct 1, ...";
  // fields the user gave are left out and named at the end ("explicit options kept: norm").
  std::string description(const PreprocessOverrides& given = {}) const;
};

// Looks beside weightsPath for preprocessor_config.json (Hugging Face, first) and config.json
// (timm pretrained_cfg; a Hugging Face model config has none and is skipped), then in a GGUF
// file's own metadata. Never throws: a malformed sidecar adds a line to warnings (naming the
// file and the reason) and is ignored.
std::optional<ModelPreprocessing> findModelPreprocessing(const std::string& weightsPath,
                                                         std::vector<std::string>& warnings);

}  // namespace patchlens
