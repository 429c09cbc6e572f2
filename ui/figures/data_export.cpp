#include "ui/figures/data_export.h"

#include <charconv>
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
  if (text.starts_with("tokens:")) {
    DataExport d{Type::Tokens, 0, 0, std::string(text.substr(7))};
    if (d.layer.empty()) throw std::invalid_argument("tokens:L needs a layer (0..depth or final)");
    return d;
  }
  if (text.starts_with("attention:")) {
    const std::string_view block = text.substr(10);
    int b = -1;
    const auto [ptr, ec] = std::from_chars(block.data(), block.data() + block.size(), b);
    if (block.empty() || ec != std::errc() || ptr != block.data() + block.size() || b < 1)
      throw std::invalid_argument("'" + std::string(text) + "': attention:L needs a block L >= 1");
    return {Type::Attention, b, 0};
  }
  if (text.starts_with("token") && !text.starts_with("token-line")) {
    const PlotKind kind = PlotKind::parse(text);
    return {Type::Token, kind.first, kind.second};
  }
  if (text.starts_with("channel") && !text.starts_with("channels")) {
    const PlotKind kind = PlotKind::parse(text);
    return {Type::Channel, kind.first, 0};
  }
  throw std::invalid_argument(
      "unknown data '" + std::string(text) +
      "' (expected embedding, token:R,C, channel:K, filters, tokens:L or attention:L)");
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
    case Type::Tokens:
      return "tokens:" + layer;
    case Type::Attention:
      return "attention:" + std::to_string(first);
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
    case Type::Tokens:
    case Type::Attention:
      throw Error(path,
                  name() + " needs a transformer, but the weights hold only a patch embedding");
  }
}

void DataExport::writeTransformer(const std::string& path, const LayerTrace& trace) const {
  if (!needsTransformer()) throw Error(path, name() + " is not a transformer export");
  if (!endsWith(path, ".npy") && !endsWith(path, ".csv"))
    throw Error(path, "data is written as .npy or .csv");
  try {
    if (type == Type::Tokens) {
      const RowMatrixF& t = trace.layers.at(static_cast<std::size_t>(trace.layerIndex(layer)));
      writeMatrix(path, t, {t.rows(), t.cols()});
      return;
    }
    if (first > trace.depth) {
      throw Error("", "block " + std::to_string(first) + " does not exist: the model has " +
                          std::to_string(trace.depth) + " blocks (attention:1.." +
                          std::to_string(trace.depth) + ")");
    }
    const auto& heads = trace.attentionOf(first);
    const Eigen::Index t = trace.tokens();
    RowMatrixF all(static_cast<Eigen::Index>(heads.size()) * t, t);
    for (std::size_t h = 0; h < heads.size(); ++h)
      all.middleRows(static_cast<Eigen::Index>(h) * t, t) = heads[h];
    writeMatrix(path, all, {static_cast<std::int64_t>(heads.size()), t, t});
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(path, e.reason());
  }
}

}  // namespace patchlens
