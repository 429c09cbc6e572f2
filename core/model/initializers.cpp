#include "core/model/initializers.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <tuple>
#include <vector>

#include "core/io/error.h"
#include "core/model/seeded_random.h"

namespace patchlens {
namespace {

// Rows of the orthonormal opponent-colour transform: luminance, red-green, blue-yellow.
constexpr std::array<std::array<double, 3>, 3> kOpponent = {{
    {1.0 / std::numbers::sqrt3, 1.0 / std::numbers::sqrt3, 1.0 / std::numbers::sqrt3},
    {1.0 / std::numbers::sqrt2, -1.0 / std::numbers::sqrt2, 0.0},
    {0.40824829046386301637, 0.40824829046386301637, -0.81649658092772603273},
}};

double dctBasis(int frequency, int position, int length) {
  const double scale = frequency == 0 ? std::sqrt(1.0 / length) : std::sqrt(2.0 / length);
  return scale * std::cos(std::numbers::pi * (2.0 * position + 1.0) * frequency / (2.0 * length));
}

void fillDct(PatchWeights& w) {
  const int p = w.patchSize;
  const int channels = w.inChannels;
  // (u + v, u, colour) orders the basis from the flattest to the busiest pattern.
  std::vector<std::tuple<int, int, int, int>> order;
  for (int u = 0; u < p; ++u)
    for (int v = 0; v < p; ++v)
      for (int colour = 0; colour < channels; ++colour) order.emplace_back(u + v, u, v, colour);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a), std::get<3>(a)) <
           std::tie(std::get<0>(b), std::get<1>(b), std::get<3>(b));
  });
  for (int d = 0; d < w.embedDim; ++d) {
    const auto [sum, u, v, colour] = order[static_cast<std::size_t>(d)];
    for (int c = 0; c < channels; ++c) {
      const double colourWeight =
          channels == 3 ? kOpponent[static_cast<std::size_t>(colour)][static_cast<std::size_t>(c)]
                        : (colour == c ? 1.0 : 0.0);
      for (int y = 0; y < p; ++y)
        for (int x = 0; x < p; ++x)
          w.weight(d, (c * p + y) * p + x) =
              static_cast<float>(colourWeight * dctBasis(u, y, p) * dctBasis(v, x, p));
    }
  }
}

}  // namespace

std::optional<Initializer> parseInitializer(std::string_view name) {
  if (name == "xavier") return Initializer::Xavier;
  if (name == "xavier-normal") return Initializer::XavierNormal;
  if (name == "torch-default") return Initializer::TorchDefault;
  if (name == "dct") return Initializer::Dct;
  return std::nullopt;
}

std::string initializerName(Initializer init) {
  switch (init) {
    case Initializer::Xavier:
      return "xavier";
    case Initializer::XavierNormal:
      return "xavier-normal";
    case Initializer::TorchDefault:
      return "torch-default";
    case Initializer::Dct:
      return "dct";
  }
  return "unknown";
}

PatchWeights makeInitializedWeights(Initializer init, const LayerShape& shape, std::uint64_t seed) {
  const std::string name = initializerName(init);
  if (shape.embedDim <= 0 || shape.inChannels <= 0 || shape.patchSize <= 0) {
    throw Error(name, "embed dim, channels and patch size must be positive");
  }
  if (shape.embedDim > 65536 || shape.patchSize > 1024 || shape.inChannels > 64) {
    throw Error(name, "layer shape is unreasonably large");
  }
  PatchWeights w;
  w.embedDim = shape.embedDim;
  w.inChannels = shape.inChannels;
  w.patchSize = shape.patchSize;
  const int fanIn = w.patchLength();
  const int fanOut = w.embedDim;
  w.weight.resize(w.embedDim, fanIn);
  w.bias = VectorF::Zero(w.embedDim);
  SeededRandom rng(seed);

  switch (init) {
    case Initializer::Xavier: {
      const double bound = std::sqrt(6.0 / (fanIn + fanOut));
      for (Eigen::Index i = 0; i < w.weight.size(); ++i)
        w.weight.data()[i] = static_cast<float>(rng.uniform(-bound, bound));
      break;
    }
    case Initializer::XavierNormal: {
      const double stddev = std::sqrt(2.0 / (fanIn + fanOut));
      for (Eigen::Index i = 0; i < w.weight.size(); ++i)
        w.weight.data()[i] = static_cast<float>(stddev * rng.normal());
      break;
    }
    case Initializer::TorchDefault: {
      // kaiming_uniform(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / fan_in).
      const double bound = 1.0 / std::sqrt(static_cast<double>(fanIn));
      for (Eigen::Index i = 0; i < w.weight.size(); ++i)
        w.weight.data()[i] = static_cast<float>(rng.uniform(-bound, bound));
      for (Eigen::Index i = 0; i < w.bias.size(); ++i)
        w.bias[i] = static_cast<float>(rng.uniform(-bound, bound));
      break;
    }
    case Initializer::Dct: {
      if (w.embedDim > fanIn) {
        throw Error(name, "dct needs embed dim <= C*P*P (" + std::to_string(fanIn) + "), got " +
                              std::to_string(w.embedDim));
      }
      fillDct(w);
      break;
    }
  }
  w.description = init == Initializer::Dct ? name : name + " (seed " + std::to_string(seed) + ")";
  return w;
}

}  // namespace patchlens
