// libFuzzer target: the .npz reader (libzip over memory, bounded inflate, member .npy parsing).
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/io/error.h"
#include "core/weights/npz_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const patchlens::NpzArchive archive(std::span<const std::uint8_t>(data, size), "fuzz.npz");
    for (const patchlens::TensorInfo& t : archive.tensors()) {
      try {
        (void)archive.read(t.name);
      } catch (const patchlens::Error&) {
      }
    }
  } catch (const patchlens::Error&) {
  }
  return 0;
}
