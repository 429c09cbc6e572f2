#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/weights/npy_array.h"

namespace patchlens {

// One tensor of a weight file, as `info` lists it.
struct TensorInfo {
  std::string name;
  std::string dtype;  // the file's own spelling: "F16" for safetensors, "<f4" for .npy members
  std::vector<std::int64_t> shape;
};

// A container of named tensors (a .safetensors file, an .npz archive, a lone .npy) that lists
// them cheaply and converts only the ones asked for, so a 350 MB checkpoint costs the few
// tensors PatchLens keeps.
class TensorSource {
 public:
  virtual ~TensorSource() = default;

  virtual std::string format() const = 0;
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  // The tensor as float32 in C order; throws Error(file, reason) for an unknown name, a dtype
  // that is not a float, or bad data.
  virtual NpyArray read(const std::string& name) const = 0;
  // Lines `info` prints about the container beyond its tensors: which sub-dict of a nested
  // checkpoint was used, a GGUF file's metadata, ... Empty for plain containers.
  virtual std::vector<std::string> details() const { return {}; }

  // By name through a hash index built on the first call: 120,000 names cost no quadratic
  // scans. The first call builds the index under a lock.
  const TensorInfo* find(const std::string& name) const;

 private:
  mutable std::shared_ptr<const std::unordered_map<std::string, std::size_t>> m_index;
};

}  // namespace patchlens
