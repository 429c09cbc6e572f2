// libFuzzer target: the GGUF reader (header, metadata of every type, tensor infos, alignment)
// and the float32 read (F32/F16/BF16/F64/Q8_0 dequantisation) of every tensor.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/io/error.h"
#include "core/weights/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const patchlens::GgufFile gguf(std::span<const std::uint8_t>(data, size), "fuzz.gguf");
    (void)gguf.details();
    for (const patchlens::TensorInfo& t : gguf.tensors()) {
      try {
        (void)gguf.read(t.name);
      } catch (const patchlens::Error&) {
      }
    }
  } catch (const patchlens::Error&) {
  }
  return 0;
}
