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

void checkOutputBudget(const PreprocessConfig& input, const PatchWeights& weights,
                       RemainderPolicy remainder, std::uint64_t maxOutputBytes,
                       const std::string& image) {
  const std::string& file = weights.file.empty() ? image : weights.file;
  const int p = weights.patchSize;
  const GridSize grid = PatchEmbedding::gridFor(input.height, input.width, p, remainder);
  if (grid.tokens() == 0) {
    throw Error(file, "the patch size P = " + std::to_string(p) + " is larger than the " +
                          std::to_string(input.width) + "x" + std::to_string(input.height) +
                          " model input; use --img-size of at least " + std::to_string(p));
  }
  const double tokens = grid.tokens();
  const double embedding = tokens * weights.embedDim * sizeof(float);
  const double patches = tokens * weights.patchLength() * sizeof(float);
  if (embedding + patches > static_cast<double>(maxOutputBytes)) {
    auto mib = [](double bytes) {
      return std::to_string(std::llround(bytes / (1 << 20))) + " MiB";
    };
    throw Error(file, "the embedding [" + std::to_string(grid.tokens()) + ", " +
                          std::to_string(weights.embedDim) + "] (" + mib(embedding) +
                          ") and its patch matrix [" + std::to_string(grid.tokens()) + ", " +
                          std::to_string(weights.patchLength()) + "] (" + mib(patches) +
                          ") exceed the output limit of " +
                          mib(static_cast<double>(maxOutputBytes)) +
                          " (raise it with --max-output-mb)");
  }
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
