#pragma once

#include <optional>
#include <string>

#include "core/model/eigen_types.h"

namespace patchlens {

// Learned (or initialised) position embeddings kept from a weight file.
struct PositionEmbedding {
  RowMatrixF table;            // [T x D], T = N or 1 + N
  bool hasClassToken = false;  // row 0 is the class-token position
  int gridRows = 0;            // grid the table was trained for (sqrt of the patch rows)
  int gridCols = 0;
  // Rows of the patch positions only (skips the class-token row when present).
  Eigen::Block<const RowMatrixF> patchRows() const {
    const Eigen::Index first = hasClassToken ? 1 : 0;
    return table.block(first, 0, table.rows() - first, table.cols());
  }
};

// The patch-embedding layer: a Conv2d with kernel = stride = patchSize.
struct PatchWeights {
  int embedDim = 0;    // D, out channels
  int inChannels = 0;  // C
  int patchSize = 0;   // P
  RowMatrixF weight;   // [D x C*P*P]: row d is the OIHW filter d flattened as (c, kh, kw)
  VectorF bias;        // [D], or empty when the layer has no bias (CLIP)
  std::optional<PositionEmbedding> positionEmbedding;
  std::optional<VectorF> classToken;  // [D]
  std::string description;            // what these weights are, for status lines and `info`
  std::string file;                   // the weight file they came from; empty when initialised

  bool hasBias() const { return bias.size() > 0; }
  int patchLength() const { return inChannels * patchSize * patchSize; }
  // Throws Error(source, reason) when shapes disagree or a value is not finite.
  void validate(const std::string& source) const;
};

}  // namespace patchlens
