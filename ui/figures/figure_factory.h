#pragma once

#include <memory>

#include "ui/figures/figure.h"
#include "ui/figures/figure_data.h"
#include "ui/figures/plot_kind.h"

namespace patchlens {

// The figure a PlotKind names, computed from `data` with the core analyses. Throws
// Error("", reason) when the kind does not fit the data (channel out of range, weights
// without position embeddings, ...); the caller names the file.
std::unique_ptr<Figure> makeFigure(const PlotKind& kind, const FigureData& data,
                                   const FigureOptions& options = {});

}  // namespace patchlens
