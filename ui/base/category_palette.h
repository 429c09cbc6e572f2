#pragma once

#include <QColor>
#include <utility>
#include <vector>

#include "core/analysis/embedding_analysis.h"

namespace patchlens {

// Colours for categories (the argmax overlay's channel indices): the most frequent
// categories get matplotlib's tab10 hues, which a reader tells apart; the rest share grey.
class CategoryPalette {
 public:
  static constexpr int kDistinct = 10;

  // (category, count) pairs, most frequent first (ties: smaller category first).
  static std::vector<std::pair<int, int>> ranked(const VectorF& categories);
  // The colour of the category ranked `rank` (0 = most frequent).
  static QColor color(int rank);
};

}  // namespace patchlens
