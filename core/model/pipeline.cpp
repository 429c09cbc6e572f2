#include "core/model/pipeline.h"

#include <algorithm>
#include <cmath>

#include "core/io/error.h"
#include "core/model/families/hf_siglip2_reader.h"
#include "core/model/families/naflex_reader.h"
#include "core/model/resource_plan.h"
#include "core/model/vision_transformer.h"
#include "core/weights/tensor_source_factory.h"

namespace patchlens {

int reducedDecodeMinSide(const PreprocessConfig& config) {
  // Each image's input size follows its own decoded size: a reduced decode would change it.
  if (config.resize == ResizeMode::MaxPatches) return 0;
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

PatchWeights resolveWeights(const WeightChoice& choice, std::uint64_t maxMemoryBytes) {
  if (const auto init = parseInitializer(choice.source)) {
    return makeInitializedWeights(*init, choice.shape, choice.seed);
  }
  try {
    return loadPatchWeights(choice.source, choice.file);
  } catch (const BudgetError&) {
    throw;
  } catch (const Error&) {
    // A NaFlex encoder (timm naflexvit.py, HF Siglip2VisionModel) embeds patches with a Linear
    // over flattened patches, no conv tensor; its reader gives the same map as conv weights.
    bool naflex = false;
    try {
      const auto source = openTensorSource(choice.source);
      naflex = isTimmNaflexLayout(*source) || isHfSiglip2Layout(*source);
    } catch (const Error&) {
    }
    if (!naflex) throw;
    TransformerLoadOptions options;
    options.patch = choice.file;
    options.maxMemoryBytes = maxMemoryBytes;
    std::string whyNot;
    if (auto vit = VisionTransformer::load(choice.source, options, &whyNot))
      return vit->patchWeights();
    throw Error(choice.source,
                "its NaFlex patch embedding comes with its encoder, which is "
                "refused: " +
                    whyNot);
  }
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
  if (adjusted.resize == ResizeMode::MaxPatches) {
    // The patch budget counts the model's patches: a processor made for another patch size
    // would give inputs that are no whole number of them.
    if (adjusted.patchSize != 0 && adjusted.patchSize != weights.patchSize) {
      throw Error(weights.description, "the preprocessing's patch size " +
                                           std::to_string(adjusted.patchSize) +
                                           " (max-patches resizing) differs from the model's " +
                                           std::to_string(weights.patchSize));
    }
    adjusted.patchSize = weights.patchSize;
    adjusted.height = adjusted.width =
        maxPatchesBoundingSide(weights.patchSize, adjusted.maxPatches);
  }
  return adjusted;
}

PreprocessConfig preprocessFor(const PreprocessConfig& config, const PatchWeights& weights,
                               int imageWidth, int imageHeight) {
  return fixedSizeFor(preprocessFor(config, weights), imageWidth, imageHeight);
}

}  // namespace patchlens
