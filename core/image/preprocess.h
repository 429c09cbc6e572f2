#pragma once

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/image/chw_tensor.h"
#include "core/image/interpolation.h"
#include "core/image/normalization.h"

namespace patchlens {

// How the image is brought to the model's input size.
enum class ResizeMode {
  Crop,    // timm eval: shorter side to floor(size / crop_pct), then center crop (default)
  Squash,  // straight to H x W, ignoring the aspect ratio (Hugging Face ViTImageProcessor)
  Pad,     // fit inside H x W keeping the aspect ratio, centred on black (letterbox)
  // The whole image, aspect kept, to the largest multiple of the patch size with at most
  // maxPatches patches (Hugging Face Siglip2ImageProcessor, SigLIP 2 NaFlex): each image has
  // its own model-input size (fixedSizeFor).
  MaxPatches,
};

std::optional<ResizeMode> parseResizeMode(std::string_view name);
std::string resizeModeName(ResizeMode mode);

// Everything that turns a decoded image into the model input; defaults are timm's
// vit_base_patch16_224 eval transform.
struct PreprocessConfig {
  int height = 224;
  int width = 224;
  ResizeMode resize = ResizeMode::Crop;
  double cropPct = 0.9;
  Interpolation interpolation = Interpolation::Bicubic;
  Normalization normalization;
  int channels = 3;  // 1 converts to PIL "L" luma before normalising
  // ResizeMode::MaxPatches: the patch budget and the patch size (0: the model's, set by
  // preprocessFor). height and width then hold the bounding square, an upper bound of every
  // image's input for budgets, until fixedSizeFor() gives one image's own size.
  int maxPatches = 256;
  int patchSize = 0;
  // Non-empty: the model's own image preprocessing is one PatchLens does not reproduce exactly
  // (e.g. llama.cpp's resize for a Gemma 3 mmproj); every image path refuses with this reason
  // (preprocessGeometry throws), model inputs given as tensors still run.
  std::string imageRefusal;
};

// Where the model input sits in the original image.
struct PreprocessGeometry {
  int sourceWidth = 0;
  int sourceHeight = 0;
  int resizedWidth = 0;  // size after the resize step
  int resizedHeight = 0;
  int offsetX = 0;  // model-input pixel (0, 0) is resized pixel (offsetX, offsetY); < 0 when padded
  int offsetY = 0;
  int inputWidth = 0;  // the model input's size (the config's, or this image's own for MaxPatches)
  int inputHeight = 0;

  // Maps a rectangle in model-input pixels to original-image pixels.
  cv::Rect2d toSource(const cv::Rect2d& inputRect) const;
};

struct PreprocessResult {
  cv::Mat inputRgb;  // the model input as 8-bit pixels (H x W, CV_8UC3 or CV_8UC1)
  ChwTensor tensor;  // normalised float CHW
  PreprocessGeometry geometry;
};

// Hugging Face's get_image_size_for_max_num_patches: the binary search over the scale (from
// 1e-6 to 100, until the interval is under 1e-5) for the largest height x width, each a
// multiple of patchSize rounded up and at least one patch, with at most maxPatches patches.
struct InputSize {
  int width = 0;
  int height = 0;
};
InputSize maxPatchesInputSize(int sourceWidth, int sourceHeight, int patchSize, int maxPatches);
// The side of the square that bounds every MaxPatches input (ceil(sqrt(maxPatches)) patches).
int maxPatchesBoundingSide(int patchSize, int maxPatches);

// The config one sourceWidth x sourceHeight image is preprocessed with: config itself, or for
// ResizeMode::MaxPatches a squash to the image's own size (throws on an impossible config).
PreprocessConfig fixedSizeFor(const PreprocessConfig& config, int sourceWidth, int sourceHeight);

// Throws Error("", reason) on an empty image or impossible config.
PreprocessResult preprocess(const cv::Mat& rgb, const PreprocessConfig& config);

// The geometry preprocess() gives a sourceWidth x sourceHeight image, before any pixel is
// touched; throws as preprocess() does for an impossible config or aspect ratio.
PreprocessGeometry preprocessGeometry(int sourceWidth, int sourceHeight,
                                      const PreprocessConfig& config);
// The part of the resized image the model input shows, in resized-image pixels.
cv::Rect visibleRegion(const PreprocessGeometry& geometry);
// preprocess() after its resize step: `visible` (visibleRegion()'s pixels, resized) placed on
// the model input (zero padding around), luma when 1 channel, normalised. Reuses result's
// storage when the sizes are unchanged. geometry comes from preprocessGeometry(.., config).
void finishPreprocess(const cv::Mat& visible, const PreprocessGeometry& geometry,
                      const PreprocessConfig& config, PreprocessResult& result);

// The 8-bit to float step alone: x / 255, then (x - mean) / std, in float like torchvision.
ChwTensor toNormalizedTensor(const cv::Mat& pixels, const Normalization& norm);
// The same into an existing tensor (its storage reused).
void normalizeInto(const cv::Mat& pixels, const Normalization& norm, ChwTensor& out);

}  // namespace patchlens
