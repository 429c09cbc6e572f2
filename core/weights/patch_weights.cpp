#include "core/weights/patch_weights.h"

#include "core/io/error.h"

namespace patchlens {

void PatchWeights::validate(const std::string& source) const {
  if (embedDim <= 0 || inChannels <= 0 || patchSize <= 0) {
    throw Error(source, "patch embedding needs positive D, C and P");
  }
  if (weight.rows() != embedDim || weight.cols() != patchLength()) {
    throw Error(source, "weight matrix is not [D x C*P*P]");
  }
  if (hasBias() && bias.size() != embedDim) {
    throw Error(source, "bias has " + std::to_string(bias.size()) + " values, expected " +
                            std::to_string(embedDim));
  }
  if (!weight.allFinite()) throw Error(source, "weight holds non-finite values (NaN or Inf)");
  if (hasBias() && !bias.allFinite())
    throw Error(source, "bias holds non-finite values (NaN or Inf)");
  if (positionEmbedding && positionEmbedding->table.cols() != embedDim) {
    throw Error(source, "position embedding width differs from the embedding dimension");
  }
  if (classToken && classToken->size() != embedDim) {
    throw Error(source, "class token width differs from the embedding dimension");
  }
}

}  // namespace patchlens
