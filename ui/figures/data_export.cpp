#include "ui/figures/data_export.h"

#include <stdexcept>

#include "core/analysis/embedding_analysis.h"
#include "core/io/csv_writer.h"
#include "core/io/error.h"
#include "core/weights/npy_array.h"
#include "ui/figures/plot_kind.h"

namespace patchlens {

namespace {

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void writeMatrix(const std::string& path, const RowMatrixF& matrix,
                 const std::vector<std::int64_t>& npyShape) {
  if (endsWith(path, ".csv"))
    writeCsv(path, matrix);
  else
    writeNpy(path, npyShape, matrix.data());
}

}  // namespace

DataExport DataExport::parse(std::string_view text) {
  if (text == "embedding") return {Type::Embedding, 0, 0};
  if (text == "filters") return {Type::Filters, 0, 0};
  // The same argument forms as the plots: reuse their parser and its messages.
  if (text.starts_with("token") && !text.starts_with("token-line")) {
    const PlotKind kind = PlotKind::parse(text);
    return {Type::Token, kind.first, kind.second};
  }
  if (text.starts_with("channel") && !text.starts_with("channels")) {
    const PlotKind kind = PlotKind::parse(text);
    return {Type::Channel, kind.first, 0};
  }
  throw std::invalid_argument("unknown data '" + std::string(text) +
                              "' (expected embedding, token:R,C, channel:K or filters)");
}

std::string DataExport::name() const {
  switch (type) {
    case Type::Embedding:
      return "embedding";
    case Type::Token:
      return "token:" + std::to_string(first) + "," + std::to_string(second);
    case Type::Channel:
      return "channel:" + std::to_string(first);
    case Type::Filters:
      return "filters";
  }
  return {};
}

void DataExport::write(const std::string& path, const Embedding& embedding,
                       const PatchWeights& weights) const {
  if (!endsWith(path, ".npy") && !endsWith(path, ".csv"))
    throw Error(path, "data is written as .npy or .csv");
  const RowMatrixF& tokens = embedding.tokens;
  const GridSize grid = embedding.grid;
  switch (type) {
    case Type::Embedding:
      writeMatrix(path, tokens, {tokens.rows(), tokens.cols()});
      return;
    case Type::Token: {
      if (first >= grid.rows || second >= grid.cols) {
        throw Error(path, "patch (" + std::to_string(first) + ", " + std::to_string(second) +
                              ") is outside the " + std::to_string(grid.rows) + " x " +
                              std::to_string(grid.cols) + " grid");
      }
      const RowMatrixF row = tokens.row(embedding.tokenIndex(first, second));
      writeMatrix(path, row, {row.cols()});
      return;
    }
    case Type::Channel: {
      if (first >= embedding.embedDim()) {
        throw Error(path, "channel " + std::to_string(first) +
                              " is out of range: the embedding has " +
                              std::to_string(embedding.embedDim()) + " channels");
      }
      const VectorF map = channelMap(tokens, first);
      const RowMatrixF grid2d = Eigen::Map<const RowMatrixF>(map.data(), grid.rows, grid.cols);
      writeMatrix(path, grid2d, {grid.rows, grid.cols});
      return;
    }
    case Type::Filters:
      writeMatrix(path, weights.weight,
                  {weights.embedDim, weights.inChannels, weights.patchSize, weights.patchSize});
      return;
  }
}

}  // namespace patchlens
