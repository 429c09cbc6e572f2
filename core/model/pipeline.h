#pragma once

#include <cstdint>
#include <string>

#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/model/initializers.h"
#include "core/model/patch_embedding.h"
#include "core/weights/model_preprocessing.h"
#include "core/weights/weight_loader.h"

namespace patchlens {

// Where the weights come from: an initializer name or a file path (--weights).
struct WeightChoice {
  std::string source = "xavier";
  std::uint64_t seed = 0;
  LayerShape shape;  // used by initializers; a weight file brings its own
  WeightLoadOptions file;
};

// The whole file -> embedding chain with the defaults the CLI and the GUI share.
struct PipelineConfig {
  ImageLoadOptions load;
  PreprocessConfig preprocess;
  WeightChoice weights;
  RemainderPolicy remainder = RemainderPolicy::Crop;
  // Decode large JPEGs at reduced resolution (libjpeg DCT scaling). Several times faster
  // but no longer equal to PIL's decode + resize: off by default (README, "Performance").
  bool fastDecode = false;
  // Preprocessing fields the user chose (CLI options): a checkpoint's own preprocessing
  // (applyModelPreprocessing) leaves them alone.
  PreprocessOverrides explicitPreprocess;
  // Refuse an embedding whose outputs (the [N, D] embedding, the [N, C*P*P] patch matrix)
  // would exceed this, judged from the model input and the weights before computing.
  std::uint64_t maxOutputBytes = std::uint64_t{256} << 20;
  // Refuse work whose resource plan (core/model/resource_plan.h) holds more than this; 0: the
  // default, 2048 MiB; never more than the machine's available memory.
  std::uint64_t maxMemoryBytes = 0;

  // The load options with the reduced-decode bound that fits the preprocessing.
  ImageLoadOptions loadOptions() const;
};

// The shorter side a reduced-resolution JPEG decode must keep for this preprocessing:
// twice what the resize step produces, so the antialiasing filter still sees enough
// pixels (measured effect on the model input: see README, "Performance").
int reducedDecodeMinSide(const PreprocessConfig& config);

// What applyModelPreprocessing did, for the CLI's stderr and the GUI's status bar.
struct ModelPreprocessingNote {
  std::string
      description;  // "preprocessing from config.json (timm pretrained_cfg): ..."; empty: none
  std::vector<std::string> warnings;  // malformed sidecars, each naming its file
};

// When the weights are a file whose checkpoint brings its own preprocessing (a timm
// config.json, a Hugging Face preprocessor_config.json beside it, GGUF metadata), makes it
// config.preprocess's default, except the fields in config.explicitPreprocess. Never throws.
ModelPreprocessingNote applyModelPreprocessing(PipelineConfig& config);

// An initializer name gives initialised weights; anything else is read as a weight file.
// A NaFlex file's patch embedding (a Linear) comes with its whole encoder, loaded under
// maxMemoryBytes (--max-memory-mb; 0: the default limit) before any tensor is converted.
PatchWeights resolveWeights(const WeightChoice& choice, std::uint64_t maxMemoryBytes = 0);

// Before computing: refuses weights whose patch is larger than the model input, and an
// embedding whose outputs (N x D and N x C*P*P floats) exceed maxOutputBytes. The error
// names the weight file when the weights come from one (they decide D and P), else `image`.
void checkOutputBudget(const PreprocessConfig& input, const PatchWeights& weights,
                       RemainderPolicy remainder, std::uint64_t maxOutputBytes,
                       const std::string& image);

// The model input's channel count follows the weights (1 or 3); max-patches resizing takes the
// model's patch size, and the bounding square as its size (budgets before an image is seen).
PreprocessConfig preprocessFor(const PreprocessConfig& config, const PatchWeights& weights);
// The same for one imageWidth x imageHeight image: its own input size (fixedSizeFor).
PreprocessConfig preprocessFor(const PreprocessConfig& config, const PatchWeights& weights,
                               int imageWidth, int imageHeight);

}  // namespace patchlens
