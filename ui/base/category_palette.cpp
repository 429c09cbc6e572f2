#include "ui/base/category_palette.h"

#include <algorithm>
#include <map>

namespace patchlens {

std::vector<std::pair<int, int>> CategoryPalette::ranked(const VectorF& categories) {
  std::map<int, int> counts;
  for (Eigen::Index i = 0; i < categories.size(); ++i) ++counts[static_cast<int>(categories(i))];
  std::vector<std::pair<int, int>> result(counts.begin(), counts.end());
  std::stable_sort(result.begin(), result.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return result;
}

QColor CategoryPalette::color(int rank) {
  // matplotlib's tab10.
  static const QColor kTab10[kDistinct] = {QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e),
                                           QColor(0x2c, 0xa0, 0x2c), QColor(0xd6, 0x27, 0x28),
                                           QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
                                           QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f),
                                           QColor(0xbc, 0xbd, 0x22), QColor(0x17, 0xbe, 0xcf)};
  return rank >= 0 && rank < kDistinct ? kTab10[rank] : QColor(0xd0, 0xd0, 0xd0);
}

}  // namespace patchlens
