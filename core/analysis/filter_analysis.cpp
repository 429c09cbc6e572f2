#include "core/analysis/filter_analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/io/error.h"

namespace patchlens {

ChwTensor FilterPca::componentTile(int index) const {
  if (index < 0 || index >= components()) {
    throw Error("", "filter component " + std::to_string(index) + " is outside 0.." +
                        std::to_string(components() - 1));
  }
  return vectorToTile(pca.components.row(index).transpose(), inChannels, patchSize);
}

ChwTensor FilterPca::meanTile() const {
  return vectorToTile(pca.mean, inChannels, patchSize);
}

FilterPca filterPca(const PatchWeights& weights, int components) {
  if (weights.weight.size() == 0) throw Error("", "PCA of an empty filter bank");
  if (weights.weight.cols() != weights.patchLength()) {
    throw Error("", "the weight has " + std::to_string(weights.weight.cols()) +
                        " columns, not C*P*P = " + std::to_string(weights.patchLength()));
  }
  // Filters are rows, exactly like tokens: the same SVD, centring and sign convention.
  FilterPca result;
  result.pca = tokenPca(weights.weight, components);
  result.inChannels = weights.inChannels;
  result.patchSize = weights.patchSize;
  return result;
}

ChwTensor filterTile(const PatchWeights& weights, int channel) {
  if (channel < 0 || channel >= weights.weight.rows()) {
    throw Error("", "filter " + std::to_string(channel) + " is outside 0.." +
                        std::to_string(weights.weight.rows() - 1));
  }
  return vectorToTile(weights.weight.row(channel).transpose(), weights.inChannels,
                      weights.patchSize);
}

ChwTensor vectorToTile(const Eigen::Ref<const VectorF>& flat, int channels, int patchSize) {
  if (channels <= 0 || patchSize <= 0 ||
      flat.size() != static_cast<Eigen::Index>(channels) * patchSize * patchSize) {
    throw Error("", "a vector of " + std::to_string(flat.size()) + " values is not a " +
                        std::to_string(channels) + " x " + std::to_string(patchSize) + " x " +
                        std::to_string(patchSize) + " tile");
  }
  ChwTensor tile(channels, patchSize, patchSize);
  // The weights flatten a filter as (c, kh, kw), which is exactly the CHW layout.
  std::copy(flat.data(), flat.data() + flat.size(), tile.data.begin());
  return tile;
}

cv::Mat tileToRgb8(const ChwTensor& tile) {
  if (tile.empty()) throw Error("", "an empty tile has no image");
  if (tile.channels != 1 && tile.channels != 3) {
    throw Error("", "a tile with " + std::to_string(tile.channels) + " channels has no RGB view");
  }
  float peak = 0.0f;
  for (const float v : tile.data) peak = std::max(peak, std::abs(v));
  const double scale = peak > 0.0f ? 127.5 / peak : 0.0;
  cv::Mat rgb(tile.height, tile.width, CV_8UC3);
  for (int y = 0; y < tile.height; ++y) {
    auto* row = rgb.ptr<std::uint8_t>(y);
    for (int x = 0; x < tile.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        const float v = tile.at(tile.channels == 3 ? c : 0, y, x);
        const double level = std::round(127.5 + scale * v);
        row[x * 3 + c] = static_cast<std::uint8_t>(std::clamp(level, 0.0, 255.0));
      }
    }
  }
  return rgb;
}

}  // namespace patchlens
