#include "core/model/position/relative_position_bias.h"

#include <string>

#include "core/io/error.h"

namespace patchlens {
namespace {

void checkGrid(const RelativePositionBias& b, int gridRows, int gridCols, int patchSize) {
  if (gridRows != b.windowRows || gridCols != b.windowCols) {
    const std::string trained = std::to_string(b.windowRows) + "x" + std::to_string(b.windowCols);
    throw Error(
        "", "the relative position bias was trained for a " + trained + " grid of " +
                std::to_string(patchSize) + "-pixel patches but this input gives " +
                std::to_string(gridRows) + "x" + std::to_string(gridCols) +
                "; timm resizes the table only when it loads a checkpoint into a model "
                "of another size (resize_rel_pos_bias_table), which PatchLens does not "
                "do: use --img-size " +
                std::to_string(b.windowRows * patchSize) +
                (b.windowRows == b.windowCols ? std::string()
                                              : "x" + std::to_string(b.windowCols * patchSize)));
  }
}

void addLookup(const RelativePositionBias& b, int gridRows, int gridCols,
               std::vector<RowMatrixF>& bias) {
  const std::vector<std::int64_t> index = relativePositionIndex(gridRows, gridCols);
  const Eigen::Index tokens = 1 + static_cast<Eigen::Index>(gridRows) * gridCols;
  for (int h = 0; h < b.heads(); ++h) {
    RowMatrixF& out = bias[static_cast<std::size_t>(h)];
    for (Eigen::Index i = 0; i < tokens * tokens; ++i) out.data()[i] += b.table(index[i], h);
  }
}

}  // namespace

std::vector<std::int64_t> relativePositionIndex(int windowRows, int windowCols) {
  const std::int64_t area = static_cast<std::int64_t>(windowRows) * windowCols;
  const std::int64_t n = area + 1;
  const std::int64_t distances = RelativePositionBias::tableRows(windowRows, windowCols);
  std::vector<std::int64_t> index(static_cast<std::size_t>(n * n));
  // Patch p = r * cols + c; relative (dr + Wh - 1) * (2 Ww - 1) + (dc + Ww - 1).
  for (std::int64_t p = 0; p < area; ++p) {
    for (std::int64_t q = 0; q < area; ++q) {
      const std::int64_t dr = p / windowCols - q / windowCols + windowRows - 1;
      const std::int64_t dc = p % windowCols - q % windowCols + windowCols - 1;
      index[static_cast<std::size_t>((p + 1) * n + q + 1)] = dr * (2 * windowCols - 1) + dc;
    }
  }
  for (std::int64_t j = 0; j < n; ++j) {
    index[static_cast<std::size_t>(j)] = distances - 3;      // cls -> patch
    index[static_cast<std::size_t>(j * n)] = distances - 2;  // patch -> cls
  }
  index[0] = distances - 1;  // cls -> cls
  return index;
}

void attentionBiasFor(const RelativePositionBias* block, const RelativePositionBias* shared,
                      int gridRows, int gridCols, int patchSize, std::vector<RowMatrixF>& bias) {
  bias.clear();
  if (!block && !shared) return;
  for (const RelativePositionBias* b : {block, shared}) {
    if (b) checkGrid(*b, gridRows, gridCols, patchSize);  // before the [T x T] are allocated
  }
  const int heads = block ? block->heads() : shared->heads();
  const Eigen::Index tokens = 1 + static_cast<Eigen::Index>(gridRows) * gridCols;
  bias.assign(static_cast<std::size_t>(heads), RowMatrixF::Zero(tokens, tokens));
  if (block) addLookup(*block, gridRows, gridCols, bias);
  if (shared) addLookup(*shared, gridRows, gridCols, bias);
}

}  // namespace patchlens
