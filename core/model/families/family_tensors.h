#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/model/eigen_types.h"
#include "core/model/transformer_block.h"
#include "core/weights/tensor_source.h"

namespace patchlens {

// Reads one family's tensors under its prefix, checking shapes and finiteness, and remembers
// which it took so that whatever is left over can be refused by name (families/*_reader.cpp).
class FamilyTensors {
 public:
  using Shape = std::vector<std::int64_t>;

  // layout names the family in the leftover refusal ("DINOv3", "BEiT").
  FamilyTensors(const TensorSource& source, std::string path, std::string prefix,
                std::string layout);

  bool has(const std::string& name) const { return m_source.find(m_prefix + name) != nullptr; }
  void setContext(std::string context) { m_context = std::move(context); }
  const std::string& prefix() const { return m_prefix; }

  // Throws Error(path, "tensor '<prefix><name>' <why> (<context>)").
  [[noreturn]] void fail(const std::string& name, const std::string& why) const;
  Shape shape(const std::string& name) const;

  // The tensor as float32 with exactly `expected` elements laid out as `expected` (leading 1s
  // allowed, as [1, 1, D] for cls_token).
  std::vector<float> read(const std::string& name, const Shape& expected);
  VectorF vector(const std::string& name, std::int64_t d);
  RowMatrixF matrix(const std::string& name, std::int64_t rows, std::int64_t cols);
  LayerNormWeights layerNorm(const std::string& stem, std::int64_t d);
  void markUsed(const std::string& name) { m_used.insert(m_prefix + name); }
  bool isUsed(const std::string& fullName) const { return m_used.count(fullName) > 0; }

  // Refuses the first tensor under the prefix that nothing took.
  void refuseLeftovers() const;
  // 1 + the largest N of "<prefix><stem>N." tensors, 0 when there is none.
  int countBlocks(const std::string& stem) const;

 private:
  const TensorSource& m_source;
  std::string m_path;
  std::string m_prefix;
  std::string m_layout;
  std::string m_context;
  std::set<std::string> m_used;
};

// The config.json beside a weight file (at most 4 MiB), or an empty object.
nlohmann::json configJsonBeside(const std::string& weightsPath);

}  // namespace patchlens
