#include "core/weights/npy_tensor_file.h"

namespace patchlens {

NpyTensorFile::NpyTensorFile(const std::string& path) : m_file(path) {
  const NpyHeader h = parseNpyHeader(m_file.bytes(), path);
  m_tensors.push_back({kArrayName, h.descr, h.shape});
}

NpyArray NpyTensorFile::read(const std::string&) const {
  return parseNpy(m_file.bytes(), m_file.path());
}

}  // namespace patchlens
