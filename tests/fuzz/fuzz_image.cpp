// libFuzzer target: content sniffing, the header pixel check and OpenCV decoding as
// PatchLens wraps them (decodeImage), then preprocessing of whatever decodes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/image/image_loader.h"
#include "core/image/preprocess.h"
#include "core/io/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  patchlens::ImageLoadOptions options;
  options.maxPixels = 4'000'000;  // keep each input cheap; the limit itself is under test
  try {
    const patchlens::LoadedImage image =
        patchlens::decodeImage(std::span<const std::uint8_t>(data, size), "fuzz", options);
    patchlens::PreprocessConfig config;
    config.height = config.width = 32;
    (void)patchlens::preprocess(image.rgb, config);
  } catch (const patchlens::Error&) {
  }
  return 0;
}
