#pragma once

#include <cstddef>
#include <vector>

namespace patchlens {

// A float image in PyTorch's CHW layout: data[(c * height + y) * width + x].
struct ChwTensor {
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<float> data;

  ChwTensor() = default;
  ChwTensor(int c, int h, int w)
      : channels(c),
        height(h),
        width(w),
        data(
            static_cast<std::size_t>(c) * static_cast<std::size_t>(h) * static_cast<std::size_t>(w),
            0.0f) {}

  std::size_t index(int c, int y, int x) const {
    return (static_cast<std::size_t>(c) * static_cast<std::size_t>(height) +
            static_cast<std::size_t>(y)) *
               static_cast<std::size_t>(width) +
           static_cast<std::size_t>(x);
  }
  float& at(int c, int y, int x) { return data[index(c, y, x)]; }
  float at(int c, int y, int x) const { return data[index(c, y, x)]; }
  bool empty() const { return data.empty(); }
};

}  // namespace patchlens
