#pragma once

#include <string>
#include <vector>

#include "core/io/mapped_file.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// A lone .npy as a one-tensor source named "(array)", mapped so that `info` reads only its header.
class NpyTensorFile : public TensorSource {
 public:
  static constexpr const char* kArrayName = "(array)";

  explicit NpyTensorFile(const std::string& path);
  std::string format() const override { return "npy"; }
  const std::vector<TensorInfo>& tensors() const override { return m_tensors; }
  NpyArray read(const std::string& name) const override;

 private:
  MappedFile m_file;
  std::vector<TensorInfo> m_tensors;
};

}  // namespace patchlens
