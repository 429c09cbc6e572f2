#include "app/cli/compare_command.h"

#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>
#include <charconv>
#include <cmath>
#include <exception>
#include <future>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <utility>

#include "app/cli/cli_runner.h"
#include "app/cli/export_command.h"
#include "core/analysis/correspondences.h"
#include "core/analysis/layer_trace.h"
#include "core/io/atomic_file.h"
#include "core/io/error.h"
#include "ui/figures/compare_figure_factory.h"
#include "ui/figures/figure_factory.h"
#include "ui/figures/side_by_side_figure.h"

namespace patchlens::cli {

namespace {

bool hasSuffix(const std::string& path, const char* suffix) {
  return QString::fromStdString(path).endsWith(QLatin1String(suffix), Qt::CaseInsensitive);
}

// Both sides at once: B on a second thread while A runs here (each forward's GEMMs still
// split over the cores). A's error wins when both fail, so the message does not depend on
// which thread was faster.
std::pair<Computed, Computed> computeBoth(const CommandLine& a, const CommandLine& b,
                                          const TransformerNeed& needA,
                                          const TransformerNeed& needB) {
  auto second = std::async(std::launch::async, [&] { return compute(b, needB); });
  Computed first;
  try {
    first = compute(a, needA);
  } catch (...) {
    second.wait();
    throw;
  }
  return {std::move(first), second.get()};
}

// Moves `c` to layer `spec` (as --layer names it); nothing for an empty spec.
void selectLayer(Computed& c, const std::string& spec, const std::string& weights) {
  if (spec.empty()) return;
  if (!c.data.trace) {
    throw Error(weights,
                "--layer needs a transformer, but the weights hold only a patch "
                "embedding (" +
                    c.data.noTransformer + ")");
  }
  try {
    c.data.layer = c.data.trace->layerIndex(spec);
  } catch (const Error& e) {
    throw UsageError("--layer: " + e.reason() + " (" + printable(weights) + ")");
  }
  c.data.embedding.tokens = c.data.trace->patchTokens(c.data.layer);
}

const LayerTrace& traceOf(const Computed& c, const std::string& weights, const std::string& what) {
  if (!c.data.trace) {
    throw Error(weights, what +
                             " needs a transformer, but the weights hold only a patch "
                             "embedding (" +
                             c.data.noTransformer + ")");
  }
  return *c.data.trace;
}

// Layer l of a model of depth `from` at the same relative depth in one of depth `to`
// (tokens_l numbering, layerAtRelativeDepth); "final" and "patch" name themselves.
std::string matchingLayer(const std::string& spec, int from, int to) {
  int value = 0;
  const auto [ptr, ec] = std::from_chars(spec.data(), spec.data() + spec.size(), value);
  if (ec != std::errc() || ptr != spec.data() + spec.size() || from <= 0) return spec;
  return std::to_string(layerAtRelativeDepth(value, from, to));
}

// How a figure names an input: its file name, with its folder when both names are equal
// (two "model.safetensors").
QString shortName(const std::string& path, const std::string& other) {
  const QFileInfo info(QString::fromStdString(path));
  if (info.fileName() != QFileInfo(QString::fromStdString(other)).fileName())
    return info.fileName();
  return info.dir().dirName() + QLatin1Char('/') + info.fileName();
}

PlotKind parseKind(const std::string& text) {
  try {
    return PlotKind::parse(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--plot ") + e.what());
  }
}

FigureFormat figureFormat(const CommandLine& cl) {
  const auto format = FigureExporter::formatForPath(QString::fromStdString(cl.output));
  if (!format) throw UsageError("--plot writes .png, .svg or .pdf (-o FILE.png|FILE.svg|FILE.pdf)");
  return *format;
}

void writePairs(const std::string& path, const std::vector<PatchMatch>& matches, GridSize gridA,
                GridSize gridB) {
  std::string text = "rA,cA,rB,cB,similarity\n";
  char number[32];
  for (const PatchMatch& m : matches) {
    const auto end = std::to_chars(number, number + sizeof number, m.similarity).ptr;
    text += std::to_string(m.tokenA / gridA.cols) + ',' + std::to_string(m.tokenA % gridA.cols) +
            ',' + std::to_string(m.tokenB / gridB.cols) + ',' +
            std::to_string(m.tokenB % gridB.cols) + ',' + std::string(number, end) + '\n';
  }
  AtomicFile file(path);
  file.write(text);
  file.commit();
}

int exportTwoImages(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  const std::string& pathA = cl.inputs.front();
  if (!cl.query.empty()) throw UsageError("--query does not apply to --compare");
  const bool pairs = !cl.data.empty();
  PlotKind kind;
  std::optional<FigureFormat> format;
  if (pairs) {
    if (cl.data != "matches")
      throw UsageError("with --compare, --data writes matches (-o pairs.csv), not '" + cl.data +
                       "'");
    if (!hasSuffix(cl.output, ".csv")) throw UsageError("--data matches writes .csv (-o FILE.csv)");
  } else {
    kind = parseKind(cl.plot);
    if (!kind.needsTwoImages()) {
      throw UsageError(
          "with --compare, --plot draws matches[:K], joint-pca or similarity-to:R,C, "
          "not '" +
          cl.plot + "'");
    }
    if (cl.foreground >= 0 && kind.type == PlotType::SimilarityTo)
      throw UsageError("--foreground applies to matches and joint-pca");
    format = figureFormat(cl);
  }
  FigureOptions options;
  options.colormap = colormapOption(cl);
  if (cl.foreground >= 0)
    options.foreground = ForegroundPcaOptions{static_cast<float>(cl.foreground), cl.foregroundFlip};

  const auto app = pairs ? nullptr : makeGuiApplication();
  CommandLine clB = cl;
  clB.inputs = {cl.compare};
  const TransformerNeed need{!cl.layer.empty(), 0};
  auto [a, b] = computeBoth(cl, clB, need, need);
  const std::string& weights = cl.config.weights.source;
  selectLayer(a, cl.layer, weights);
  selectLayer(b, cl.layer, weights);
  printWarnings(err, pathA, a.warnings);
  printWarnings(err, cl.compare, b.warnings);

  try {
    if (pairs) {
      MatchOptions match;
      if (options.foreground) {
        match.foregroundOnly = true;
        match.foreground = *options.foreground;
      }
      const std::vector<PatchMatch> matches =
          mutualNearestNeighbours(a.data.embedding.tokens, b.data.embedding.tokens, match);
      writePairs(cl.output, matches, a.data.embedding.grid, b.data.embedding.grid);
      out << "wrote " << printable(cl.output) << ": " << matches.size()
          << " mutual nearest neighbours of " << printable(pathA) << " and "
          << printable(cl.compare) << "\n";
      return 0;
    }
    const auto figure = makeCompareFigure(kind, a.data, shortName(pathA, cl.compare), b.data,
                                          shortName(cl.compare, pathA), options);
    writeFigure(cl, *figure, *format, kind.name(), out);
  } catch (const Error& e) {
    throw Error(e.file().empty() ? pathA : e.file(), e.reason());
  }
  return 0;
}

int exportTwoModels(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  const std::string& path = cl.inputs.front();
  const std::string& weightsA = cl.config.weights.source;
  const std::string& weightsB = cl.compareWeights;
  if (!cl.data.empty())
    throw UsageError("--compare-weights draws figures (--plot pca, similarity:R,C, attention:L)");
  const PlotKind kind = parseKind(cl.plot);
  if (kind.type != PlotType::Pca && kind.type != PlotType::Similarity &&
      kind.type != PlotType::Attention) {
    throw UsageError(
        "with --compare-weights, --plot draws pca, similarity:R,C or attention:L[,H], "
        "not '" +
        cl.plot + "'");
  }
  const FigureFormat format = figureFormat(cl);
  FigureOptions options;
  options.colormap = colormapOption(cl);
  if (!cl.query.empty()) {
    try {
      options.query = TokenQuery::parse(cl.query);
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--query ") + e.what());
    }
  }
  if (cl.foreground >= 0) {
    if (kind.type != PlotType::Pca) throw UsageError("--foreground applies to --plot pca only");
    options.foreground = ForegroundPcaOptions{static_cast<float>(cl.foreground), cl.foregroundFlip};
  }
  const bool attention = kind.type == PlotType::Attention;
  if (attention && !cl.layer.empty())
    throw UsageError("attention:L names its block; --layer does not apply");

  const auto app = makeGuiApplication();
  CommandLine clB = cl;
  clB.config.weights.source = weightsB;
  // B's block is only known once B is read: its attention is kept within the trace's budget.
  const TransformerNeed needA{attention || !cl.layer.empty(), attention ? kind.first : 0};
  const TransformerNeed needB{needA.trace, 0};
  auto [a, b] = computeBoth(cl, clB, needA, needB);
  printWarnings(err, path, a.warnings);

  const QString nameA = shortName(weightsA, weightsB);
  const QString nameB = shortName(weightsB, weightsA);
  PlotKind kindB = kind;
  QString labelA;
  QString labelB;
  QString subtitle;
  if (attention) {
    const int depthA = traceOf(a, weightsA, kind.name()).depth;
    const int depthB = traceOf(b, weightsB, kind.name()).depth;
    kindB.first = blockAtRelativeDepth(kind.first, depthA, depthB);
    labelA = QStringLiteral("A: %1 · block %2 of %3").arg(nameA).arg(kind.first).arg(depthA);
    labelB = QStringLiteral("B: %1 · block %2 of %3").arg(nameB).arg(kindB.first).arg(depthB);
    subtitle = QStringLiteral("%1 · block l of A beside block round(l · %2 / %3) of B")
                   .arg(QFileInfo(QString::fromStdString(path)).fileName())
                   .arg(depthB)
                   .arg(depthA);
  } else {
    selectLayer(a, cl.layer, weightsA);
    if (!cl.layer.empty()) {
      const int depthA = traceOf(a, weightsA, "--layer").depth;
      const int depthB = traceOf(b, weightsB, "--layer").depth;
      selectLayer(b, matchingLayer(cl.layer, depthA, depthB), weightsB);
      subtitle = QStringLiteral("%1 · tokens_l of A beside tokens_round(l · %2 / %3) of B")
                     .arg(QFileInfo(QString::fromStdString(path)).fileName())
                     .arg(depthB)
                     .arg(depthA);
    } else {
      subtitle = QStringLiteral("%1 · the patch embedding of both")
                     .arg(QFileInfo(QString::fromStdString(path)).fileName());
    }
    labelA = QStringLiteral("A: %1 · %2").arg(nameA, layerLabel(a.data));
    labelB = QStringLiteral("B: %1 · %2").arg(nameB, layerLabel(b.data));
  }
  std::unique_ptr<Figure> left;
  std::unique_ptr<Figure> right;
  try {
    left = makeFigure(kind, a.data, options);
  } catch (const Error& e) {
    throw Error(e.file().empty() ? weightsA : e.file(), e.reason());
  }
  try {
    right = makeFigure(kindB, b.data, options);
  } catch (const Error& e) {
    throw Error(e.file().empty() ? weightsB : e.file(), e.reason());
  }
  const SideBySideFigure figure(std::move(left), labelA, std::move(right), labelB, subtitle);
  writeFigure(cl, figure, format, kind.name() + " (two models)", out);
  return 0;
}

}  // namespace

int runCompareExport(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  return cl.compare.empty() ? exportTwoModels(cl, out, err) : exportTwoImages(cl, out, err);
}

}  // namespace patchlens::cli
