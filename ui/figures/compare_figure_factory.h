#pragma once

#include <QString>
#include <memory>

#include "ui/figures/figure.h"
#include "ui/figures/figure_data.h"
#include "ui/figures/plot_kind.h"

namespace patchlens {

// How many matches `matches` draws without a K.
inline constexpr int kDefaultMatchCount = 50;

// The two-image figure a PlotKind names (matches[:K], joint-pca, similarity-to:R,C) from A's and
// B's data at the same layer of one model; `options.foreground` restricts the matches to
// foreground patches / adds the DINOv2 foreground step to the joint PCA. Throws Error("",
// reason) when the kind does not fit (a patch outside A's grid, different token widths).
std::unique_ptr<Figure> makeCompareFigure(const PlotKind& kind, const FigureData& a,
                                          const QString& nameA, const FigureData& b,
                                          const QString& nameB, const FigureOptions& options = {});

// "Block 6" / "Patch embedding": how the figures name the layer of `data`.
QString layerLabel(const FigureData& data);

}  // namespace patchlens
