// libFuzzer target: the safetensors header parser and every tensor conversion.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/io/error.h"
#include "core/weights/safetensors_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const patchlens::SafetensorsFile file(std::span<const std::uint8_t>(data, size),
                                          "fuzz.safetensors");
    for (const patchlens::TensorInfo& t : file.tensors()) {
      try {
        (void)file.read(t.name);
      } catch (const patchlens::Error&) {
      }
    }
  } catch (const patchlens::Error&) {
  }
  return 0;
}
