#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/cli/command_line.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_data.h"
#include "ui/figures/figure_exporter.h"

class QGuiApplication;

namespace patchlens::cli {

// `patchlens-cli export IMAGE (--plot KIND | --data WHAT) -o FILE`: one figure of the
// image's embedding as PNG / SVG / PDF, or the numbers behind one as NPY / CSV. Throws
// UsageError for a malformed request, Error for bad input or a failed write.
int runExport(const CommandLine& cl, std::ostream& out, std::ostream& err);

// What an export computes of one image (also each side of `export --compare`).
struct Computed {
  FigureData data;
  std::vector<std::string> warnings;
  // The encoder behind data.trace (shares its weights), for what the trace does not keep:
  // a block's q, k, v (--source). Null without a transformer.
  std::shared_ptr<const VisionTransformer> model;
};

// What of the transformer an export needs: nothing, its tokens and analyses, or also one
// block's attention (kept whatever the memory budget).
struct TransformerNeed {
  bool trace = false;
  int keepBlock = 0;
};

// cl.inputs.front() through cl.config's weights: the decoded input, the patch embedding and,
// when `need` says so, the transformer's trace. Throws Error naming the file.
Computed compute(const CommandLine& cl, const TransformerNeed& need = {});

// Writes `figure` to cl.output in `format` at cl's size and scale (refusing an oversized
// PNG) and says so on `out`: "wrote FILE: WHAT, W x H pt".
void writeFigure(const CommandLine& cl, const Figure& figure, FigureFormat format,
                 const std::string& what, std::ostream& out);
// --colormap as a ColormapId (nullopt when not given); UsageError naming the choices.
std::optional<ColormapId> colormapOption(const CommandLine& cl);

// A QGuiApplication for the figures' fonts, offscreen unless QT_QPA_PLATFORM says otherwise.
std::unique_ptr<QGuiApplication> makeGuiApplication();

}  // namespace patchlens::cli
