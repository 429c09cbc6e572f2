#pragma once

#include "ui/figures/figure_data.h"

namespace patchlens {

struct ComputeResult;

// The figures' input from the GUI's current result: the very numbers the views show, so an
// export from the GUI equals `patchlens-cli export` with the same image and options.
FigureData figureDataFor(const ComputeResult& result);

}  // namespace patchlens
