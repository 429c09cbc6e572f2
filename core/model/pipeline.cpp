#include "core/model/pipeline.h"

#include <algorithm>
#include <cmath>

#include "core/io/error.h"

namespace patchlens {

int reducedDecodeMinSide(const PreprocessConfig& config) {
  const int longer = std::max(config.height, config.width);
  const double resized =
      config.resize == ResizeMode::Crop ? std::ceil(longer / config.cropPct) : longer;
  return 2 * static_cast<int>(resized);
}

ImageLoadOptions PipelineConfig::loadOptions() const {
  ImageLoadOptions options = load;
  options.reducedDecodeMinSide = fastDecode ? reducedDecodeMinSide(preprocess) : 0;
  return options;
}

ModelPreprocessingNote applyModelPreprocessing(PipelineConfig& config) {
  ModelPreprocessingNote note;
  if (parseInitializer(config.weights.source)) return note;
  if (const auto model = findModelPreprocessing(config.weights.source, note.warnings)) {
    config.preprocess = model->applyTo(config.preprocess, config.explicitPreprocess);
    note.description = model->description(config.explicitPreprocess);
  }
  return note;
}

PatchWeights resolveWeights(const WeightChoice& choice) {
  if (const auto init = parseInitializer(choice.source)) {
    return makeInitializedWeights(*init, choice.shape, choice.seed);
  }
  return loadPatchWeights(choice.source, choice.file);
}

PreprocessConfig preprocessFor(const PreprocessConfig& config, const PatchWeights& weights) {
  if (weights.inChannels != 1 && weights.inChannels != 3) {
    throw Error(weights.description, "weights with " + std::to_string(weights.inChannels) +
                                         " input channels cannot take an RGB or gray image");
  }
  PreprocessConfig adjusted = config;
  adjusted.channels = weights.inChannels;
  return adjusted;
}

}  // namespace patchlens
