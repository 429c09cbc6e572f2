#pragma once

#include <iosfwd>

#include "app/cli/command_line.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_data.h"
#include "ui/figures/figure_exporter.h"
#include "ui/figures/plot_kind.h"

namespace patchlens::cli {

// `export (IMAGE | --tensor X.npy) --weights W --plot prediction[:K] | gradcam[:K] |
// relevance[:K]`: the classifier's figures, computed as `predict` / `explain` compute them (the
// same input, head and labels; K = the class, default the top one; for prediction K = how many).
int exportClassifierPlot(const CommandLine& cl, const PlotKind& kind, const FigureOptions& options,
                         FigureFormat format, std::ostream& out, std::ostream& err);

// `export ... --data explain[:K] -o F.npz`: exactly the arrays of `explain --class K` (runExplain
// itself writes them); --target similar:R,C as explain takes it.
int exportExplainData(const CommandLine& cl, std::ostream& out, std::ostream& err);

// True for --data explain[:K].
bool isExplainData(const std::string& data);

}  // namespace patchlens::cli
