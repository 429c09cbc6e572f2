#include "core/model/families/family_tensors.h"

#include <algorithm>
#include <cmath>

#include "core/io/error.h"
#include "core/weights/shape_text.h"

namespace patchlens {

FamilyTensors::FamilyTensors(const TensorSource& source, std::string path, std::string prefix,
                             std::string layout)
    : m_source(source),
      m_path(std::move(path)),
      m_prefix(std::move(prefix)),
      m_layout(std::move(layout)) {}

void FamilyTensors::fail(const std::string& name, const std::string& why) const {
  throw Error(m_path, "tensor '" + m_prefix + name + "' " + why +
                          (m_context.empty() ? "" : " (" + m_context + ")"));
}

FamilyTensors::Shape FamilyTensors::shape(const std::string& name) const {
  const TensorInfo* t = m_source.find(m_prefix + name);
  if (!t) fail(name, "is missing");
  return t->shape;
}

void FamilyTensors::check(const std::string& name, const Shape& expected) const {
  const Shape s = shape(name);
  Shape squeezed(s.begin(), s.end());
  while (squeezed.size() > expected.size() && squeezed.front() == 1)
    squeezed.erase(squeezed.begin());
  if (squeezed != expected) fail(name, "is " + shapeText(s) + ", expected " + shapeText(expected));
}

std::vector<float> FamilyTensors::read(const std::string& name, const Shape& expected) {
  check(name, expected);
  if (m_shapesOnly) {
    m_used.insert(m_prefix + name);
    std::size_t count = 1;
    for (std::int64_t d : expected) count *= static_cast<std::size_t>(d);
    return std::vector<float>(count, 0.0f);
  }
  NpyArray a = m_source.read(m_prefix + name);
  for (float v : a.data) {
    if (!std::isfinite(v)) fail(name, "holds non-finite values (NaN or Inf)");
  }
  m_used.insert(m_prefix + name);
  return std::move(a.data);
}

VectorF FamilyTensors::vector(const std::string& name, std::int64_t d) {
  const std::vector<float> a = read(name, {d});
  return Eigen::Map<const VectorF>(a.data(), d);
}

RowMatrixF FamilyTensors::matrix(const std::string& name, std::int64_t rows, std::int64_t cols) {
  if (m_shapesOnly) {
    check(name, {rows, cols});
    m_used.insert(m_prefix + name);
    return {};
  }
  const std::vector<float> a = read(name, {rows, cols});
  return Eigen::Map<const RowMatrixF>(a.data(), rows, cols);
}

LinearLayer FamilyTensors::linear(const RowMatrixF& weight, const VectorF& bias, std::int64_t out,
                                  std::int64_t in) const {
  if (m_shapesOnly) return LinearLayer::shapeOnly(static_cast<int>(out), static_cast<int>(in));
  return LinearLayer(weight, bias);
}

LayerNormWeights FamilyTensors::layerNorm(const std::string& stem, std::int64_t d) {
  return {vector(stem + ".weight", d), vector(stem + ".bias", d)};
}

LinearLayer FamilyTensors::linearWithOptionalBias(const std::string& stem, std::int64_t out,
                                                  std::int64_t in) {
  const RowMatrixF weight = matrix(stem + ".weight", out, in);
  return linear(weight,
                has(stem + ".bias") ? vector(stem + ".bias", out) : VectorF(VectorF::Zero(out)),
                out, in);
}

void FamilyTensors::readClassAndRegisterTokens(const std::string& className,
                                               const std::string& registerName, std::int64_t d,
                                               TransformerConfig& c, TransformerWeights& w) {
  std::vector<float> prefixRows;
  if (has(className)) {
    c.classToken = true;
    prefixRows = read(className, {d});
  }
  if (has(registerName)) {
    const Shape s = shape(registerName);
    if (s.size() != 3) fail(registerName, "is " + shapeText(s) + ", expected [1, R, D]");
    const std::vector<float> regs = read(registerName, {s[1], d});
    prefixRows.insert(prefixRows.end(), regs.begin(), regs.end());
    c.registerTokens = static_cast<int>(s[1]);
  }
  w.prefixTokens = Eigen::Map<const RowMatrixF>(prefixRows.data(), c.prefixTokens(), d);
}

void FamilyTensors::refuseLeftovers() const {
  for (const TensorInfo& t : m_source.tensors()) {
    if (t.name.compare(0, m_prefix.size(), m_prefix) == 0 && m_used.count(t.name) == 0)
      throw Error(m_path,
                  "tensor '" + t.name + "' is not part of the " + m_layout + " PatchLens runs");
  }
}

std::int64_t FamilyTensors::readWidthAndDepth(TransformerConfig& c, const std::string& fileKind) {
  const Shape patchShape = shape("patch_embed.proj.weight");
  if (patchShape.size() != 4) fail("patch_embed.proj.weight", "is not a 4-D kernel");
  c.embedDim = static_cast<int>(patchShape[0]);
  c.depth = countBlocks();
  if (c.depth == 0) fail("blocks.0.norm1.weight", "is missing: " + fileKind + " with no blocks");
  return patchShape[0];
}

void FamilyTensors::finishWithPatchEmbedding(TransformerWeights& w,
                                             const WeightLoadOptions& patchOptions) {
  PatchWeights patch = loadPatchWeights(m_path, patchOptions);
  markUsed("patch_embed.proj.weight");
  if (has("patch_embed.proj.bias")) markUsed("patch_embed.proj.bias");
  refuseLeftovers();
  w.config.patchSize = patch.patchSize;
  w.config.inChannels = patch.inChannels;
  w.shapesOnly = m_shapesOnly;
  w.patchEmbedding = std::make_shared<const PatchEmbedding>(std::move(patch));
}

int FamilyTensors::countBlocks(const std::string& stem) const {
  int count = 0;
  const std::string full = m_prefix + stem;
  for (const TensorInfo& t : m_source.tensors()) {
    if (t.name.compare(0, full.size(), full) != 0) continue;
    std::size_t i = full.size();
    int index = 0;
    bool digits = false;
    while (i < t.name.size() && t.name[i] >= '0' && t.name[i] <= '9' && index < 100000) {
      index = index * 10 + (t.name[i] - '0');
      ++i;
      digits = true;
    }
    if (digits && i < t.name.size() && t.name[i] == '.') count = std::max(count, index + 1);
  }
  return count;
}

}  // namespace patchlens
