#include "app/cli/export_explain.h"

#include <QGuiApplication>
#include <algorithm>
#include <charconv>
#include <ostream>

#include "app/cli/cli_runner.h"
#include "app/cli/explain_command.h"
#include "app/cli/export_command.h"
#include "core/io/error.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_factory.h"

namespace patchlens::cli {
namespace {

// A --tensor input has no pixels: the figure shows the tensor itself, scaled from its min..max
// to 0..255 (context for the map; the map's numbers are the tensor's).
QImage tensorPreview(const ChwTensor& t) {
  QImage image(t.width, t.height, QImage::Format_RGB888);
  if (t.data.empty()) return image;
  const auto [lo, hi] = std::minmax_element(t.data.begin(), t.data.end());
  const float span = std::max(*hi - *lo, 1e-12f);
  const std::size_t plane = static_cast<std::size_t>(t.width) * static_cast<std::size_t>(t.height);
  for (int y = 0; y < t.height; ++y) {
    uchar* row = image.scanLine(y);
    for (int x = 0; x < t.width; ++x) {
      const std::size_t at = static_cast<std::size_t>(y) * static_cast<std::size_t>(t.width) +
                             static_cast<std::size_t>(x);
      for (int c = 0; c < 3; ++c) {
        const int channel = std::min(c, t.channels - 1);
        const float v = (t.data[static_cast<std::size_t>(channel) * plane + at] - *lo) / span;
        row[3 * x + c] = static_cast<uchar>(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f);
      }
    }
  }
  return image;
}

}  // namespace

bool isExplainData(const std::string& data) {
  return data == "explain" || data.rfind("explain:", 0) == 0;
}

int exportClassifierPlot(const CommandLine& cl, const PlotKind& kind, const FigureOptions& options,
                         FigureFormat format, std::ostream& out, std::ostream& err) {
  const auto app = makeGuiApplication();
  const ClassifierRun run = loadClassifierRun(cl, err);
  const std::string& path = cl.config.weights.source;
  const ClassifierModel& model = run.model;
  if (!model.head && kind.type == PlotType::Prediction)
    throw Error(path, "no classifier head to predict with: " + model.whyNoHead);
  if (!model.head)
    throw Error(path, "no classifier head (" + model.whyNoHead + ") for " + kind.name() +
                          "; explain a patch instead: explain --target similar:ROW,COL");
  if (kind.type != PlotType::Prediction && kind.first >= model.head->classes())
    throw UsageError(kind.name() + ": the head has " + std::to_string(model.head->classes()) +
                     " classes (0.." + std::to_string(model.head->classes() - 1) + ")");
  if (const std::string why = TransformerBackward::unsupportedReason(*model.weights); !why.empty())
    throw Error(path, why);
  FigureData data;
  data.input = run.inputRgb.empty() ? tensorPreview(run.input) : toQImage(run.inputRgb);
  data.tensor = run.input;
  data.weights = std::make_shared<const PatchWeights>(model.encoder->patchWeights());
  try {
    data.explainer = std::make_shared<const ClassExplainer>(model.weights, model.head, run.input);
  } catch (const Error& e) {
    throw Error(e.file().empty() ? run.inputName : e.file(), e.reason());
  }
  const std::unique_ptr<Figure> figure = makeFigure(kind, data, options);
  writeFigure(cl, *figure, format, kind.name() + " (" + figure->title().toStdString() + ")", out);
  return 0;
}

int exportExplainData(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  CommandLine explain = cl;
  if (cl.data != "explain") {
    const std::string k = cl.data.substr(std::string("explain:").size());
    int value = -1;
    const auto [ptr, ec] = std::from_chars(k.data(), k.data() + k.size(), value);
    if (k.empty() || ec != std::errc() || ptr != k.data() + k.size() || value < 0)
      throw UsageError("--data explain:K needs a class K, got '" + cl.data + "'");
    if (cl.classIndex >= 0 && cl.classIndex != value)
      throw UsageError("--data " + cl.data + " and --class " + std::to_string(cl.classIndex) +
                       " disagree");
    explain.classIndex = value;
  }
  checkExplainOptions(explain);
  const ClassifierRun run = loadClassifierRun(explain, err);
  runExplain(explain, run.model, run.input, run.inputName, out);
  return 0;
}

}  // namespace patchlens::cli
