#include "core/model/qkv_features.h"

#include "core/io/error.h"
#include "core/model/vision_transformer.h"

namespace patchlens {
namespace {

Eigen::Index sourceOffset(TokenSource source, Eigen::Index width) {
  switch (source) {
    case TokenSource::Queries:
      return 0;
    case TokenSource::Keys:
      return width;
    case TokenSource::Values:
      return 2 * width;
    case TokenSource::Tokens:
      break;
  }
  throw Error({}, "the block's tokens are not part of its q, k, v");
}

}  // namespace

const char* tokenSourceName(TokenSource source) {
  switch (source) {
    case TokenSource::Tokens:
      return "tokens";
    case TokenSource::Queries:
      return "queries";
    case TokenSource::Keys:
      return "keys";
    case TokenSource::Values:
      return "values";
  }
  return "?";
}

const char* tokenSourceTitle(TokenSource source) {
  switch (source) {
    case TokenSource::Tokens:
      return "Tokens";
    case TokenSource::Queries:
      return "Queries";
    case TokenSource::Keys:
      return "Keys";
    case TokenSource::Values:
      return "Values";
  }
  return "?";
}

std::optional<TokenSource> parseTokenSource(const std::string& text) {
  if (text == "tokens") return TokenSource::Tokens;
  if (text == "queries" || text == "q") return TokenSource::Queries;
  if (text == "keys" || text == "k") return TokenSource::Keys;
  if (text == "values" || text == "v") return TokenSource::Values;
  return std::nullopt;
}

RowMatrixF qkvFeatures(const RowMatrixF& qkv, TokenSource source) {
  const Eigen::Index width = qkv.cols() / 3;
  return qkv.middleCols(sourceOffset(source, width), width);
}

RowMatrixF qkvHeads(const RowMatrixF& qkv, TokenSource source, int heads) {
  const Eigen::Index width = qkv.cols() / 3;
  const Eigen::Index tokens = qkv.rows();
  const Eigen::Index headDim = width / heads;
  const Eigen::Index offset = sourceOffset(source, width);
  RowMatrixF out(heads * tokens, headDim);
  for (Eigen::Index h = 0; h < heads; ++h)
    out.middleRows(h * tokens, tokens) = qkv.middleCols(offset + h * headDim, headDim);
  return out;
}

RowMatrixF blockQkv(const VisionTransformer& model, const ChwTensor& input, int block) {
  const int depth = model.config().depth;
  if (block < 1 || block > depth) {
    throw Error({}, "q, k, v belong to a block 1.." + std::to_string(depth) + ", not " +
                        std::to_string(block));
  }
  RowMatrixF kept;
  const QkvObserver observer = [&](int b, const RowMatrixF& qkv) {
    if (b == block) kept = qkv;
  };
  model.forward(input, {}, KeptLayers::only(0), observer);
  return kept;
}

}  // namespace patchlens
