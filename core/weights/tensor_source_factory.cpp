#include "core/weights/tensor_source_factory.h"

#include <cstdint>
#include <cstring>
#include <span>

#include "core/io/error.h"
#include "core/io/mapped_file.h"
#include "core/weights/npy_tensor_file.h"
#include "core/weights/npz_archive.h"
#include "core/weights/safetensors_file.h"

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
  return startsWith(b, "PK\x03\x04", 4) || startsWith(b, "PK\x05\x06", 4);
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
  if (zip || (!safetensors && endsWith(path, ".npz"))) return std::make_unique<NpzArchive>(path);
  if (safetensors || endsWith(path, ".safetensors")) return std::make_unique<SafetensorsFile>(path);
  if (b.empty()) throw Error(path, "empty file: not a weight file");
  throw Error(path, "not a weight file PatchLens reads (.safetensors, .npy or .npz)");
}

bool looksLikeTensorContainer(const std::string& path) {
  try {
    const MappedFile file(path);
    const auto b = file.bytes();
    return startsWith(b, "\x93NUMPY", 6) || isZip(b) || SafetensorsFile::looksLike(b, b.size());
  } catch (const Error&) {
    return false;
  }
}

}  // namespace patchlens
