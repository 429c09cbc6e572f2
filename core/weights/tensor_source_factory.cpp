#include "core/weights/tensor_source_factory.h"

#include <cstdint>
#include <cstring>
#include <span>

#include "core/io/error.h"
#include "core/io/mapped_file.h"
#include "core/weights/gguf_file.h"
#include "core/weights/npy_tensor_file.h"
#include "core/weights/npz_archive.h"
#include "core/weights/safetensors_file.h"
#include "core/weights/torch_checkpoint.h"
#include "core/weights/zip_members.h"

namespace patchlens {
namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool startsWith(std::span<const std::uint8_t> b, const char* magic, std::size_t n) {
  return b.size() >= n && std::memcmp(b.data(), magic, n) == 0;
}

bool isZip(std::span<const std::uint8_t> b) {
  return ZipMembers::looksLike(b);
}

// A pickle of protocol 2-5 (torch.save's legacy stream, or a bare pickle to refuse by name).
bool isPickle(std::span<const std::uint8_t> b) {
  return b.size() >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5;
}

bool hasTorchExtension(const std::string& path) {
  for (const char* ext : {".pth", ".pt", ".bin", ".ckpt", ".pkl"}) {
    if (endsWith(path, ext)) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<TensorSource> openTensorSource(const std::string& path) {
  const MappedFile probe(path);
  const auto b = probe.bytes();
  const bool npy = startsWith(b, "\x93NUMPY", 6);
  const bool zip = isZip(b);
  const bool safetensors = SafetensorsFile::looksLike(b, b.size());
  if (npy || (!zip && !safetensors && endsWith(path, ".npy")))
    return std::make_unique<NpyTensorFile>(path);
  if (zip) {
    // torch.save and torch.jit.save write zips too: a `<name>/data.pkl` member tells them apart.
    const bool torch = TorchCheckpoint::isTorchZip(ZipMembers(b, path));
    if (torch) return std::make_unique<TorchCheckpoint>(path);
    return std::make_unique<NpzArchive>(path);
  }
  // A safetensors header length can start with 0x80 like a pickle: its own check goes first.
  if (safetensors) return std::make_unique<SafetensorsFile>(path);
  if (GgufFile::looksLike(b)) return std::make_unique<GgufFile>(path);
  if (isPickle(b)) return std::make_unique<TorchCheckpoint>(path);
  if (!safetensors && !b.empty()) {
    if (endsWith(path, ".npz")) return std::make_unique<NpzArchive>(path);
    if (endsWith(path, ".gguf")) return std::make_unique<GgufFile>(path);
    if (hasTorchExtension(path)) return std::make_unique<TorchCheckpoint>(path);
  }
  if (safetensors || endsWith(path, ".safetensors")) return std::make_unique<SafetensorsFile>(path);
  if (b.empty()) throw Error(path, "empty file: not a weight file");
  throw Error(path,
              "not a weight file PatchLens reads (.safetensors, .npy, .npz, PyTorch .pth/.pt/.bin, "
              ".gguf)");
}

bool looksLikeTensorContainer(const std::string& path) {
  try {
    const MappedFile file(path);
    const auto b = file.bytes();
    return startsWith(b, "\x93NUMPY", 6) || isZip(b) || SafetensorsFile::looksLike(b, b.size()) ||
           GgufFile::looksLike(b) || isPickle(b);
  } catch (const Error&) {
    return false;
  }
}

}  // namespace patchlens
