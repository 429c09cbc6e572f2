// libFuzzer target: PyTorch checkpoints from memory (zip with data.pkl through libzip, legacy
// pickle streams), i.e. the restricted unpickler, the state-dict search, the view/storage
// checks and the strided float32 reads of every tensor.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/io/error.h"
#include "core/weights/pickle_reader.h"
#include "core/weights/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  try {
    const patchlens::TorchCheckpoint ckpt(bytes, "fuzz.pth");
    for (const patchlens::TensorInfo& t : ckpt.tensors()) {
      try {
        (void)ckpt.read(t.name);
      } catch (const patchlens::Error&) {
      }
    }
  } catch (const patchlens::Error&) {
  }
  // The bare unpickler too, so pickles that are not checkpoints reach every opcode.
  try {
    patchlens::PickleReader reader("fuzz.pkl", "pickle");
    (void)reader.parse(bytes);
  } catch (const patchlens::Error&) {
  }
  return 0;
}
