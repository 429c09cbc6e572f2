#pragma once

#include "ui/figures/figure_data.h"
#include "ui/figures/plot_kind.h"

namespace patchlens {

struct ComputeResult;
class Session;

// The figures' input from the GUI's current result: the very numbers the views show, so an
// export from the GUI equals `patchlens-cli export` with the same image and options.
FigureData figureDataFor(const ComputeResult& result);
// The same for the session's current result, with the classifier's explainer and the explained
// class (prediction, gradcam, relevance draw what the Prediction dock and the overlays show).
FigureData figureDataFor(const Session& session);

// The style the screen draws `kind` with (colormap, scale, opacity): exports start from what
// the user sees, not from the figure defaults.
FigureOptions figureOptionsFor(const Session& session, const PlotKind& kind);
// One line naming that style for a person ("viridis · scale percentile · opacity 60 %").
QString describeFigureOptions(const FigureOptions& options);

}  // namespace patchlens
