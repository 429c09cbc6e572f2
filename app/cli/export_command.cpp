#include "app/cli/export_command.h"

#include <QGuiApplication>
#include <cmath>
#include <memory>
#include <ostream>
#include <stdexcept>

#include "app/cli/cli_runner.h"
#include "app/cli/compare_command.h"
#include "app/cli/export_explain.h"
#include "core/analysis/layer_trace.h"
#include "core/io/error.h"
#include "core/model/pipeline.h"
#include "core/model/qkv_features.h"
#include "core/model/resource_plan.h"
#include "core/model/vision_transformer.h"
#include "ui/base/colormap.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/data_export.h"
#include "ui/figures/figure_exporter.h"
#include "ui/figures/figure_factory.h"

namespace patchlens::cli {

namespace {

// The largest PNG side we agree to render (a 16k x 16k RGBA image is already 1 GB).
constexpr int kMaxPixels = 16384;

}  // namespace

// Figures need fonts and fonts need a QGuiApplication. Only the figure paths make one, so
// info / embed / plain batch keep running where no Qt platform plugin is installed.
std::unique_ptr<QGuiApplication> makeGuiApplication() {
  if (QCoreApplication::instance() != nullptr) return nullptr;
  // Nothing is ever shown: unless told otherwise, use the offscreen platform, which needs
  // no display server (a stale DISPLAY over ssh would otherwise abort the process).
  if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
  static int argc = 1;
  static char name[] = "patchlens-cli";
  static char* argv[] = {name, nullptr};
  return std::make_unique<QGuiApplication>(argc, argv);
}

// The same file -> embedding chain as `embed`, keeping what the figures need; through the
// transformer when `need` says so.
Computed compute(const CommandLine& cl, const TransformerNeed& need) {
  const std::string& path = cl.inputs.front();
  // Decode first: a bad image is the likelier mistake and fails fastest.
  const LoadedImage image = loadImage(path, cl.config.loadOptions());
  auto weights = std::make_shared<const PatchWeights>(
      resolveWeights(cl.config.weights, cl.config.maxMemoryBytes));
  const PreprocessConfig preprocessConfig =
      preprocessFor(cl.config.preprocess, *weights, image.rgb.cols, image.rgb.rows);
  checkOutputBudget(preprocessConfig, *weights, cl.config.remainder, cl.config.maxOutputBytes,
                    path);
  const GridSize grid = PatchEmbedding::gridFor(preprocessConfig.height, preprocessConfig.width,
                                                weights->patchSize, cl.config.remainder);
  const ResourceLimits limits{cl.config.maxMemoryBytes, cl.config.maxOutputBytes};
  ResourcePlan embedPlan =
      embeddingPlan(preprocessConfig, grid.tokens(), weights->patchLength(), weights->embedDim);
  embedPlan.command = "export";
  checkResourcePlan(embedPlan, limits, weights->file.empty() ? path : weights->file);
  PreprocessResult pre;
  try {
    pre = preprocess(image.rgb, preprocessConfig);
  } catch (const Error& e) {
    throw Error(e.file().empty() ? path : e.file(), e.reason());
  }
  Computed result;
  result.warnings = image.warnings;
  FigureData& data = result.data;
  data.input = toQImage(pre.inputRgb);
  data.normalization = preprocessConfig.normalization;
  data.remainder = cl.config.remainder;
  try {
    data.embedding = PatchEmbedding(*weights).forward(pre.tensor, cl.config.remainder);
  } catch (const Error& e) {
    throw Error(path, e.reason());
  }
  if (need.trace) {
    const std::string& source = cl.config.weights.source;
    if (parseInitializer(source)) {
      data.noTransformer = "'" + source + "' initialises a patch embedding only";
    } else {
      TransformerLoadOptions options;
      options.heads = cl.heads;
      options.patch = cl.config.weights.file;
      options.maxMemoryBytes = cl.config.maxMemoryBytes;
      std::string whyNot;
      const auto model = VisionTransformer::load(source, options, &whyNot);
      if (model) {
        // The encoder's plan before it runs: a long sequence is refused, not run out of memory.
        ResourcePlan plan = forwardPlan(model->config(), grid.rows, grid.cols, false, false);
        plan.command = "export";
        plan.inputBytes = embedPlan.memoryBytes();
        plan.outputBytes = 0;  // a figure
        checkResourcePlan(plan, limits, source);
        TraceOptions traceOptions;
        traceOptions.keepBlock = need.keepBlock;
        try {
          data.trace = std::make_shared<const LayerTrace>(
              traceTransformer(*model, pre.tensor, traceOptions));
        } catch (const Error& e) {
          throw Error(e.file().empty() ? path : e.file(), e.reason());
        }
        result.model = std::make_shared<const VisionTransformer>(*model);
      } else {
        data.noTransformer = whyNot;
      }
    }
  }
  data.tensor = std::move(pre.tensor);
  data.weights = std::move(weights);
  return result;
}

void writeFigure(const CommandLine& cl, const Figure& figure, FigureFormat format,
                 const std::string& what, std::ostream& out) {
  FigureExporter exporter(figure);
  const QSizeF preferred = figure.preferredSize();
  exporter.setSize({cl.figureWidth > 0 ? cl.figureWidth : preferred.width(),
                    cl.figureHeight > 0 ? cl.figureHeight : preferred.height()});
  if (cl.figureScale > 0) exporter.setScale(cl.figureScale);
  const QSize pixels = exporter.pixelSize();
  if (format == FigureFormat::Png &&
      (pixels.width() > kMaxPixels || pixels.height() > kMaxPixels)) {
    throw UsageError("the PNG would be " + std::to_string(pixels.width()) + " x " +
                     std::to_string(pixels.height()) + " pixels; at most " +
                     std::to_string(kMaxPixels) + " per side");
  }
  exporter.write(QString::fromStdString(cl.output), format);
  out << "wrote " << printable(cl.output) << ": " << what << ", "
      << std::lround(exporter.size().width()) << " x " << std::lround(exporter.size().height())
      << " pt";
  if (format == FigureFormat::Png)
    out << " (" << pixels.width() << " x " << pixels.height() << " px)";
  out << "\n";
}

std::optional<ColormapId> colormapOption(const CommandLine& cl) {
  if (cl.colormap.empty()) return std::nullopt;
  const auto colormap = Colormap::parse(cl.colormap);
  if (!colormap) {
    std::string names;
    for (const ColormapId id : Colormap::all())
      names += (names.empty() ? "" : ", ") + Colormap::get(id).name();
    throw UsageError("unknown --colormap '" + cl.colormap + "' (expected " + names + ")");
  }
  return colormap;
}

namespace {

bool hasSuffix(const std::string& path, const char* suffix) {
  return QString::fromStdString(path).endsWith(QLatin1String(suffix), Qt::CaseInsensitive);
}

bool isClassifierPlot(const std::string& plot) {
  try {
    return !plot.empty() && PlotKind::parse(plot).needsClassifier();
  } catch (const std::invalid_argument&) {
    return false;  // exportPlot names what is wrong with it
  }
}

int exportData(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  DataExport request;
  try {
    request = DataExport::parse(cl.data);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--data ") + e.what());
  }
  if (request.type == DataExport::Type::AttentionMask) {
    if (!hasSuffix(cl.output, ".npz"))
      throw UsageError("--data " + request.name() + " writes .npz (-o FILE.npz)");
  } else if (!hasSuffix(cl.output, ".npy") && !hasSuffix(cl.output, ".csv")) {
    throw UsageError("--data writes .npy or .csv (-o FILE.npy|FILE.csv)");
  }
  const Computed c = compute(cl, {request.needsTransformer(), request.attentionBlock()});
  std::string what;
  if (request.needsTransformer()) {
    if (!c.data.trace) {
      throw Error(cl.config.weights.source, request.name() +
                                                " needs a transformer, but the weights hold only a "
                                                "patch embedding (" +
                                                c.data.noTransformer + ")");
    }
    what = request.writeTransformer(cl.output, *c.data.trace);
  } else {
    what = request.write(cl.output, c.data.embedding, *c.data.weights);
  }
  printWarnings(err, cl.inputs.front(), c.warnings);
  out << "wrote " << printable(cl.output) << ": " << request.name() << " " << what << " of "
      << printable(cl.inputs.front()) << "\n";
  return 0;
}

// --source queries|keys|values: the token figure drawn from block L's q, k or v (heads side by
// side, the patch rows) instead of its tokens (issue 21); --source tokens changes nothing.
void applyTokenSource(const CommandLine& cl, const PlotKind& kind, Computed& c) {
  const std::optional<TokenSource> source = parseTokenSource(cl.source);
  if (!source)
    throw UsageError("--source needs tokens, queries, keys or values, got '" + cl.source + "'");
  if (*source == TokenSource::Tokens) return;
  if (!kind.drawsTokens()) {
    throw UsageError(
        "--source applies to the token figures (channel, token, token-line, "
        "channels, similarity, histogram, pca), not to " +
        kind.name());
  }
  const int block = c.data.layer - 1;
  if (cl.layer.empty() || !c.data.trace || !c.model || block < 1 || block > c.data.trace->depth) {
    throw UsageError("--source " + cl.source + ": q, k, v belong to a block, give --layer L (1.." +
                     std::to_string(c.data.trace ? c.data.trace->depth : 0) + ")");
  }
  try {
    const RowMatrixF qkv = blockQkv(*c.model, c.data.tensor, block);
    c.data.embedding.tokens = qkvFeatures(qkv, *source).bottomRows(c.data.trace->patches());
  } catch (const Error& e) {
    throw Error(e.file().empty() ? cl.inputs.front() : e.file(), e.reason());
  }
  c.data.source = *source;
}

int exportPlot(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  PlotKind kind;
  try {
    kind = PlotKind::parse(cl.plot);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--plot ") + e.what());
  }
  if (kind.needsTwoImages()) throw UsageError("--plot " + kind.name() + " needs --compare B");
  FigureOptions options;
  options.colormap = colormapOption(cl);
  const QString output = QString::fromStdString(cl.output);
  const auto format = FigureExporter::formatForPath(output);
  if (!format) throw UsageError("--plot writes .png, .svg or .pdf (-o FILE.png|FILE.svg|FILE.pdf)");

  if (!cl.query.empty()) {
    try {
      options.query = TokenQuery::parse(cl.query);
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--query ") + e.what());
    }
  }
  if (kind.needsClassifier()) return exportClassifierPlot(cl, kind, options, *format, out, err);
  if (cl.foreground >= 0) {
    if (kind.type != PlotType::Pca) throw UsageError("--foreground applies to --plot pca only");
    options.foreground = ForegroundPcaOptions{static_cast<float>(cl.foreground), cl.foregroundFlip};
  }
  const bool transformerKind =
      kind.type == PlotType::Attention || kind.type == PlotType::AttentionHeads ||
      kind.type == PlotType::AttentionMask || kind.type == PlotType::Rollout ||
      kind.type == PlotType::AttentionDistance || kind.type == PlotType::TokenNorms;
  const bool attentionKind = kind.type == PlotType::Attention ||
                             kind.type == PlotType::AttentionHeads ||
                             kind.type == PlotType::AttentionMask;

  const auto app = makeGuiApplication();
  Computed c = compute(cl, {transformerKind || !cl.layer.empty(), attentionKind ? kind.first : 0});
  if (!cl.layer.empty()) {
    if (!c.data.trace) {
      throw Error(cl.config.weights.source,
                  "--layer needs a transformer, but the weights hold "
                  "only a patch embedding (" +
                      c.data.noTransformer + ")");
    }
    try {
      c.data.layer = c.data.trace->layerIndex(cl.layer);
    } catch (const Error& e) {
      throw UsageError("--layer: " + e.reason());
    }
    c.data.embedding.tokens = c.data.trace->patchTokens(c.data.layer);
  }
  if (!cl.source.empty()) applyTokenSource(cl, kind, c);
  std::unique_ptr<Figure> figure;
  try {
    figure = makeFigure(kind, c.data, options);
  } catch (const Error& e) {
    // The analyses do not know the file; the image (with its weights) is what does not fit.
    throw Error(e.file().empty() ? cl.inputs.front() : e.file(), e.reason());
  }
  printWarnings(err, cl.inputs.front(), c.warnings);
  writeFigure(cl, *figure, *format, kind.name(), out);
  return 0;
}

}  // namespace

int runExport(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  if (!cl.tensorPath.empty() && !isExplainData(cl.data) &&
      (!isClassifierPlot(cl.plot) || !cl.compare.empty() || !cl.compareWeights.empty()))
    throw UsageError(
        "--tensor X.npy applies to --plot prediction, gradcam, relevance and "
        "--data explain only");
  if (!cl.compare.empty() || !cl.compareWeights.empty()) return runCompareExport(cl, out, err);
  if (cl.plot.empty() && isExplainData(cl.data)) return exportExplainData(cl, out, err);
  return cl.plot.empty() ? exportData(cl, out, err) : exportPlot(cl, out, err);
}

}  // namespace patchlens::cli
