#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/model/eigen_types.h"
#include "core/model/transformer_block.h"
#include "core/model/transformer_weights.h"
#include "core/weights/tensor_source.h"
#include "core/weights/weight_loader.h"

namespace patchlens {

// The tensors of one family's checkpoint under one prefix, for the readers in families/: each read
// checks the shape and finiteness and is remembered, so that whatever is left over is refused by
// name ("tensor 'X' is not part of <layout> PatchLens runs").
class FamilyTensors {
 public:
  using Shape = std::vector<std::int64_t>;

  FamilyTensors(const TensorSource& source, std::string path, std::string prefix,
                std::string layout);

  bool has(const std::string& name) const { return m_source.find(m_prefix + name) != nullptr; }
  // Shapes only (TransformerLoadOptions::shapesOnly, what `info` describes from): every name and
  // shape is checked as in a load, but no tensor is converted: read() and vector() give zeros of
  // the expected size (vectors, tokens, position tables: small), matrix() an empty matrix and
  // linear() a layer of sizes only, so the blocks' weights are never materialised.
  void setShapesOnly(bool on) { m_shapesOnly = on; }
  bool shapesOnly() const { return m_shapesOnly; }
  // "block 2 of 12", appended to every refusal until cleared.
  void setContext(std::string context) { m_context = std::move(context); }
  const std::string& prefix() const { return m_prefix; }

  [[noreturn]] void fail(const std::string& name, const std::string& why) const;
  Shape shape(const std::string& name) const;

  // The tensor as float32 with exactly `expected` elements laid out as `expected` (leading 1s
  // allowed, as [1, 1, D] for cls_token).
  std::vector<float> read(const std::string& name, const Shape& expected);
  VectorF vector(const std::string& name, std::int64_t d);
  // Empty in shapes-only mode.
  RowMatrixF matrix(const std::string& name, std::int64_t rows, std::int64_t cols);
  // LinearLayer(weight, bias), or LinearLayer::shapeOnly(out, in) in shapes-only mode.
  LinearLayer linear(const RowMatrixF& weight, const VectorF& bias, std::int64_t out,
                     std::int64_t in) const;
  LayerNormWeights layerNorm(const std::string& stem, std::int64_t d);
  // stem.weight [out x in] and stem.bias [out] when the file has it (zeros otherwise).
  LinearLayer linearWithOptionalBias(const std::string& stem, std::int64_t out, std::int64_t in);
  // The optional class token [1, 1, D] then register tokens [1, R, D], in that token order,
  // into c.classToken / c.registerTokens and w.prefixTokens (timm's cls_token / reg_token
  // under the family's names).
  void readClassAndRegisterTokens(const std::string& className, const std::string& registerName,
                                  std::int64_t d, TransformerConfig& c, TransformerWeights& w);
  void markUsed(const std::string& name) { m_used.insert(m_prefix + name); }
  bool isUsed(const std::string& fullName) const { return m_used.count(fullName) > 0; }

  // Refuses the first tensor under the prefix that nothing took.
  void refuseLeftovers() const;

  // The width from patch_embed.proj.weight [D, C, P, P] and the count of blocks into `c`
  // (refused when there are none: "an Eva file with no blocks"); returns D.
  std::int64_t readWidthAndDepth(TransformerConfig& c, const std::string& fileKind);
  // The conv patch embedding (loadPatchWeights) into `w`, then every tensor left over refused;
  // `w` is marked shapes-only in that mode.
  void finishWithPatchEmbedding(TransformerWeights& w, const WeightLoadOptions& patch);
  // 1 + the largest N of "<prefix><stem>N." tensors, 0 when there is none.
  int countBlocks(const std::string& stem = "blocks.") const;

 private:
  // The shape of `name` against `expected` (leading 1s allowed), refused by name otherwise.
  void check(const std::string& name, const Shape& expected) const;

  const TensorSource& m_source;
  std::string m_path;
  std::string m_prefix;
  std::string m_layout;
  std::string m_context;
  bool m_shapesOnly = false;
  std::set<std::string> m_used;
};

}  // namespace patchlens
