#include "ui/figures/data_export.h"

#include <charconv>
#include <stdexcept>

#include "core/analysis/attention_mask.h"
#include "core/analysis/embedding_analysis.h"
#include "core/io/atomic_file.h"
#include "core/io/csv_writer.h"
#include "core/io/error.h"
#include "core/weights/npy_array.h"
#include "core/weights/npz_writer.h"
#include "ui/figures/plot_kind.h"

namespace patchlens {

namespace {

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "float32 [197, 768]".
std::string shapeText(const std::vector<std::int64_t>& shape) {
  std::string text = "float32 [";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string writeMatrix(const std::string& path, const RowMatrixF& matrix,
                        const std::vector<std::int64_t>& npyShape) {
  if (endsWith(path, ".csv"))
    writeCsv(path, matrix);
  else
    writeNpy(path, npyShape, matrix.data());
  return shapeText(npyShape);
}

// attention:L as CSV: a header naming the columns, then one line per (head, query).
void writeAttentionCsv(const std::string& path, const std::vector<RowMatrixF>& heads) {
  AtomicFile file(path);
  const Eigen::Index t = heads.empty() ? 0 : heads.front().cols();
  std::string line = "head,query";
  for (Eigen::Index k = 0; k < t; ++k) line += ",key" + std::to_string(k);
  file.write(line + "\n");
  char buffer[32];
  for (std::size_t h = 0; h < heads.size(); ++h) {
    for (Eigen::Index q = 0; q < heads[h].rows(); ++q) {
      line = std::to_string(h) + "," + std::to_string(q);
      for (Eigen::Index k = 0; k < t; ++k) {
        const auto result = std::to_chars(buffer, buffer + sizeof buffer, heads[h](q, k));
        line += ',';
        line.append(buffer, result.ptr);
      }
      file.write(line + "\n");
    }
  }
  file.commit();
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
  if (text.starts_with("attention-mask")) {
    const PlotKind kind = PlotKind::parse(text);
    if (kind.first < 1)
      throw std::invalid_argument("'" + std::string(text) +
                                  "': attention-mask:L needs a block L >= 1");
    DataExport d{Type::AttentionMask, kind.first, 0};
    d.threshold = kind.threshold;
    return d;
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
      "' (expected embedding, token:R,C, channel:K, filters, tokens:L, attention:L or "
      "attention-mask:L[:T])");
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
    case Type::AttentionMask: {
      PlotKind kind{PlotType::AttentionMask, first, 0};
      kind.threshold = threshold;
      return kind.name();
    }
  }
  return {};
}

std::string DataExport::write(const std::string& path, const Embedding& embedding,
                              const PatchWeights& weights) const {
  if (!endsWith(path, ".npy") && !endsWith(path, ".csv"))
    throw Error(path, "data is written as .npy or .csv");
  const RowMatrixF& tokens = embedding.tokens;
  const GridSize grid = embedding.grid;
  switch (type) {
    case Type::Embedding:
      return writeMatrix(path, tokens, {tokens.rows(), tokens.cols()});
    case Type::Token: {
      if (first >= grid.rows || second >= grid.cols) {
        throw Error(path, "patch (" + std::to_string(first) + ", " + std::to_string(second) +
                              ") is outside the " + std::to_string(grid.rows) + " x " +
                              std::to_string(grid.cols) + " grid");
      }
      const RowMatrixF row = tokens.row(embedding.tokenIndex(first, second));
      return writeMatrix(path, row, {row.cols()});
    }
    case Type::Channel: {
      if (first >= embedding.embedDim()) {
        throw Error(path, "channel " + std::to_string(first) +
                              " is out of range: the embedding has " +
                              std::to_string(embedding.embedDim()) + " channels");
      }
      const VectorF map = channelMap(tokens, first);
      const RowMatrixF grid2d = Eigen::Map<const RowMatrixF>(map.data(), grid.rows, grid.cols);
      return writeMatrix(path, grid2d, {grid.rows, grid.cols});
    }
    case Type::Filters:
      return writeMatrix(
          path, weights.weight,
          {weights.embedDim, weights.inChannels, weights.patchSize, weights.patchSize});
    case Type::Tokens:
    case Type::Attention:
    case Type::AttentionMask:
      throw Error(path,
                  name() + " needs a transformer, but the weights hold only a patch embedding");
  }
  return {};
}

std::string DataExport::writeTransformer(const std::string& path, const LayerTrace& trace) const {
  if (!needsTransformer()) throw Error(path, name() + " is not a transformer export");
  if (type == Type::AttentionMask ? !endsWith(path, ".npz")
                                  : !endsWith(path, ".npy") && !endsWith(path, ".csv"))
    throw Error(path, type == Type::AttentionMask ? "attention-mask:L is written as .npz"
                                                  : "data is written as .npy or .csv");
  try {
    if (type == Type::Tokens) {
      const RowMatrixF& t = trace.layers.at(static_cast<std::size_t>(trace.layerIndex(layer)));
      return writeMatrix(path, t, {t.rows(), t.cols()});
    }
    if (first > trace.depth) {
      throw Error("", "block " + std::to_string(first) + " does not exist: the model has " +
                          std::to_string(trace.depth) + " blocks (attention:1.." +
                          std::to_string(trace.depth) + ")");
    }
    const auto& heads = trace.attentionOf(first);
    const Eigen::Index t = trace.tokens();
    const auto h = static_cast<std::int64_t>(heads.size());
    if (type == Type::AttentionMask) {
      if (trace.prefixTokens < 1 || trace.prefixNames.front() != "cls")
        throw Error("", name() +
                            " thresholds the class token's attention (DINO); this model has "
                            "no class token");
      const AttentionMasks m =
          attentionMasks(heads, 0, trace.prefixTokens, trace.gridRows, trace.gridCols, threshold);
      const int p = trace.patchSize;
      std::vector<RowMatrixF> maps, masks;
      std::vector<const float*> mapParts, maskParts;
      for (Eigen::Index i = 0; i < m.maps.rows(); ++i) {
        maps.push_back(upsampleNearest(m.maps.row(i).transpose(), m.gridRows, m.gridCols, p));
        masks.push_back(upsampleNearest(m.masks.row(i).transpose(), m.gridRows, m.gridCols, p));
      }
      for (std::size_t i = 0; i < maps.size(); ++i) {
        mapParts.push_back(maps[i].data());
        maskParts.push_back(masks[i].data());
      }
      const std::vector<std::int64_t> shape{h, std::int64_t{m.gridRows} * p,
                                            std::int64_t{m.gridCols} * p};
      NpzWriter npz(path);
      npz.add("attentions", shape, mapParts);
      npz.add("th_attn", shape, maskParts);
      npz.commit();
      return "attentions and th_attn " + shapeText(shape);
    }
    if (endsWith(path, ".csv")) {
      writeAttentionCsv(path, heads);
      return shapeText({h, t, t}) + " (CSV: head, query, then " + std::to_string(t) + " keys)";
    }
    RowMatrixF all(h * t, t);
    for (std::size_t i = 0; i < heads.size(); ++i)
      all.middleRows(static_cast<Eigen::Index>(i) * t, t) = heads[i];
    return writeMatrix(path, all, {h, t, t});
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(path, e.reason());
  }
}

}  // namespace patchlens
