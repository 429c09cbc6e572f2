#pragma once

#include <iosfwd>
#include <memory>

#include "app/cli/command_line.h"

class QGuiApplication;

namespace patchlens::cli {

// `patchlens-cli export IMAGE (--plot KIND | --data WHAT) -o FILE`: one figure of the
// image's embedding as PNG / SVG / PDF, or the numbers behind one as NPY / CSV. Throws
// UsageError for a malformed request, Error for bad input or a failed write.
int runExport(const CommandLine& cl, std::ostream& out, std::ostream& err);

// A QGuiApplication for the figures' fonts, offscreen unless QT_QPA_PLATFORM says otherwise.
std::unique_ptr<QGuiApplication> makeGuiApplication();

}  // namespace patchlens::cli
