#pragma once

#include <iosfwd>

#include "app/cli/command_line.h"

namespace patchlens::cli {

// `export A --compare B ...` (two images, one model: matches, joint PCA, similarity of a patch
// of A over B, the mutual nearest-neighbour pairs as CSV) and `export A --compare-weights W2
// ...` (one image, two models side by side at matching relative depth). The two inputs are
// computed in parallel. Throws UsageError / Error like runExport.
int runCompareExport(const CommandLine& cl, std::ostream& out, std::ostream& err);

}  // namespace patchlens::cli
