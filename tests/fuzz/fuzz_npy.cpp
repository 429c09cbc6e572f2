// libFuzzer target: the .npy header parser and the float32 / C-order conversion.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/io/error.h"
#include "core/weights/npy_array.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)patchlens::parseNpy(std::span<const std::uint8_t>(data, size), "fuzz.npy");
  } catch (const patchlens::Error&) {
  }
  return 0;
}
