#include "ui/launch_options.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QMouseEvent>
#include <QTimer>
#include <algorithm>
#include <vector>

#include "ui/main_window.h"
#include "ui/panels/analysis_views.h"
#include "ui/panels/patch_inspector.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/explain_session.h"
#include "ui/transformer_launch.h"
#include "ui/views/image_view.h"

namespace patchlens {

std::optional<LaunchOptions> parseLaunchOptions(const QStringList& arguments, QString* error) {
  QCommandLineParser parser;
  parser.setApplicationDescription(QCoreApplication::translate(
      "LaunchOptions", "See what a Vision Transformer's patch embedding does to an image."));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("image"),
                               QCoreApplication::translate("LaunchOptions", "Image to open."),
                               QStringLiteral("[IMAGE]"));
  const QCommandLineOption weights(
      QStringLiteral("weights"),
      QCoreApplication::translate("LaunchOptions", "Initializer name or weight file."),
      QStringLiteral("W"));
  const QCommandLineOption select(
      QStringLiteral("select"),
      QCoreApplication::translate("LaunchOptions", "Select the patch at row R, column C."),
      QStringLiteral("R,C"));
  const QCommandLineOption hover(
      QStringLiteral("hover"),
      QCoreApplication::translate("LaunchOptions",
                                  "Move the mouse over the patch at row R, column C."),
      QStringLiteral("R,C"));
  const QCommandLineOption overlay(
      QStringLiteral("overlay"),
      QCoreApplication::translate("LaunchOptions",
                                  "channel:K, norm, mean, argmax, pca, similarity, attention, "
                                  "rollout (the last two with a transformer's weights) or none."),
      QStringLiteral("KIND"));
  const QCommandLineOption colormap(
      QStringLiteral("colormap"),
      QCoreApplication::translate("LaunchOptions", "Colormap name (viridis, RdBu_r, ...)."),
      QStringLiteral("NAME"));
  const QCommandLineOption screenshot(
      QStringLiteral("screenshot"),
      QCoreApplication::translate("LaunchOptions",
                                  "Render the window to FILE.png after loading and exit."),
      QStringLiteral("FILE"));
  const QCommandLineOption size(QStringLiteral("size"),
                                QCoreApplication::translate("LaunchOptions", "Window size WxH."),
                                QStringLiteral("WxH"));
  const QCommandLineOption original(
      QStringLiteral("original"),
      QCoreApplication::translate("LaunchOptions", "Show the original image with the crop box."));
  const QCommandLineOption dock(
      QStringLiteral("dock"),
      QCoreApplication::translate("LaunchOptions",
                                  "Bring a dock to the front: inspector, channel, model, matrix, "
                                  "filters, filter-pca, posembed, reconstruction; with a "
                                  "transformer: attention, attention-distance, token-norms, "
                                  "foreground-pca."),
      QStringLiteral("NAME"));
  const QCommandLineOption layoutPreset(
      QStringLiteral("layout"),
      QCoreApplication::translate("LaunchOptions",
                                  "Arrange the docks: transformer (View ▸ Transformer Layout)."),
      QStringLiteral("NAME"));
  const QCommandLineOption measure(
      QStringLiteral("measure"),
      QCoreApplication::translate("LaunchOptions",
                                  "Time channel change and click handling, print, exit."));
  const QCommandLineOption fastDecode(
      QStringLiteral("fast-decode"),
      QCoreApplication::translate(
          "LaunchOptions", "Decode large JPEGs at reduced resolution (faster, approximate)."));
  const QCommandLineOption reset(
      QStringLiteral("reset-settings"),
      QCoreApplication::translate("LaunchOptions", "Start from default options and layout."));
  const QCommandLineOption layer(
      QStringLiteral("layer"),
      QCoreApplication::translate("LaunchOptions",
                                  "Show a transformer layer: L = tokens_L (0 = input to block 1, "
                                  "L = block L), final, or patch."),
      QStringLiteral("L"));
  const QCommandLineOption head(
      QStringLiteral("head"),
      QCoreApplication::translate("LaunchOptions", "Select attention head H (-1: the mean)."),
      QStringLiteral("H"));
  const QCommandLineOption query(
      QStringLiteral("query"),
      QCoreApplication::translate("LaunchOptions",
                                  "The attention query: a prefix token (cls, dist, reg N with N = "
                                  "1..registers; any case, reg:N too) or a patch R,C."),
      QStringLiteral("TOKEN"));
  const QCommandLineOption foreground(
      QStringLiteral("foreground"),
      QCoreApplication::translate("LaunchOptions",
                                  "Turn on the DINOv2 PCA's foreground step at threshold T."),
      QStringLiteral("T"));
  const QCommandLineOption source(
      QStringLiteral("source"),
      QCoreApplication::translate("LaunchOptions",
                                  "What the token views show at a block: tokens, queries, keys or "
                                  "values (as export --source; with --layer L)."),
      QStringLiteral("S"));
  const QCommandLineOption heads(
      QStringLiteral("heads"),
      QCoreApplication::translate("LaunchOptions",
                                  "Attention heads of the weight file's transformer: overrides the "
                                  "count from its metadata, config.json or the width (refused when "
                                  "N does not divide the width)."),
      QStringLiteral("N"));
  parser.addOptions({weights, select, hover, overlay, colormap, screenshot, size, original, dock,
                     measure, fastDecode, reset, layer, head, query, foreground, heads,
                     layoutPreset, source});
  parser.process(arguments);

  LaunchOptions options;
  const QStringList positional = parser.positionalArguments();
  if (positional.size() > 1) {
    *error = QCoreApplication::translate("LaunchOptions", "at most one image");
    return std::nullopt;
  }
  if (!positional.isEmpty()) options.image = positional.first();
  options.weights = parser.value(weights);
  for (const auto& [option, target] :
       {std::pair{&select, &options.select}, std::pair{&hover, &options.hover}}) {
    if (!parser.isSet(*option)) continue;
    const QStringList parts = parser.value(*option).split(QLatin1Char(','));
    bool okRow = false;
    bool okCol = false;
    if (parts.size() == 2) *target = PatchPos{parts[0].toInt(&okRow), parts[1].toInt(&okCol)};
    if (!okRow || !okCol) {
      *error = QCoreApplication::translate("LaunchOptions", "--%1 wants R,C")
                   .arg(option->names().first());
      return std::nullopt;
    }
  }
  options.overlay = parser.value(overlay);
  if (!options.overlay.isEmpty()) {
    const QString kind = options.overlay.section(QLatin1Char(':'), 0, 0);
    if (!parseOverlayKind(kind)) {
      *error =
          QCoreApplication::translate("LaunchOptions", "unknown overlay %1").arg(options.overlay);
      return std::nullopt;
    }
  }
  options.colormap = parser.value(colormap);
  if (!options.colormap.isEmpty() && !Colormap::parse(options.colormap.toStdString())) {
    *error =
        QCoreApplication::translate("LaunchOptions", "unknown colormap %1").arg(options.colormap);
    return std::nullopt;
  }
  options.screenshot = parser.value(screenshot);
  if (parser.isSet(size)) {
    const QStringList parts = parser.value(size).split(QLatin1Char('x'));
    if (parts.size() == 2) options.size = QSize(parts[0].toInt(), parts[1].toInt());
    if (!options.size.isValid() || options.size.isEmpty()) {
      *error = QCoreApplication::translate("LaunchOptions", "--size wants WxH");
      return std::nullopt;
    }
  }
  options.original = parser.isSet(original);
  options.dock = parser.value(dock);
  options.layout = parser.value(layoutPreset);
  if (!options.layout.isEmpty() && options.layout != QLatin1String("transformer")) {
    *error =
        QCoreApplication::translate("LaunchOptions", "unknown layout %1 (expected transformer)")
            .arg(options.layout);
    return std::nullopt;
  }
  if (!options.dock.isEmpty() && !dockNames().contains(options.dock)) {
    *error = QCoreApplication::translate("LaunchOptions", "unknown dock %1 (expected %2)")
                 .arg(options.dock, dockNames().join(QStringLiteral(", ")));
    return std::nullopt;
  }
  options.measure = parser.isSet(measure);
  options.fastDecode = parser.isSet(fastDecode);
  options.resetSettings = parser.isSet(reset);
  options.layer = parser.value(layer);
  options.source = parser.value(source);
  options.query = parser.value(query);
  if (parser.isSet(head)) {
    bool ok = false;
    options.head = parser.value(head).toInt(&ok);
    if (!ok) {
      *error = QCoreApplication::translate("LaunchOptions", "--head wants a number");
      return std::nullopt;
    }
  }
  if (parser.isSet(heads)) {
    bool ok = false;
    options.heads = parser.value(heads).toInt(&ok);
    // The CLI's range (app/cli/command_line.cpp).
    if (!ok || options.heads < 1 || options.heads > 1024) {
      *error = QCoreApplication::translate("LaunchOptions", "--heads wants N in 1..1024");
      return std::nullopt;
    }
  }
  if (parser.isSet(foreground)) {
    bool ok = false;
    options.foreground = parser.value(foreground).toDouble(&ok);
    if (!ok || *options.foreground < 0 || *options.foreground > 1) {
      *error = QCoreApplication::translate("LaunchOptions", "--foreground wants T in [0, 1]");
      return std::nullopt;
    }
  }
  return options;
}

QStringList dockNames() {
  return {QStringLiteral("inspector"),   QStringLiteral("channel"),
          QStringLiteral("model"),       QStringLiteral("matrix"),
          QStringLiteral("filters"),     QStringLiteral("filter-pca"),
          QStringLiteral("posembed"),    QStringLiteral("reconstruction"),
          QStringLiteral("attention"),   QStringLiteral("attention-distance"),
          QStringLiteral("token-norms"), QStringLiteral("foreground-pca"),
          QStringLiteral("prediction")};
}

void waitForEvents(int maxMs) {
  QTimer wake;
  wake.setSingleShot(true);
  wake.start(maxMs);
  QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
}

bool waitForSession(const Session& session, int timeoutMs) {
  QElapsedTimer timer;
  timer.start();
  while (session.isBusy() && timer.elapsed() < timeoutMs) {
    waitForEvents(50);
  }
  return !session.isBusy();
}

OpenTiming openAndPaint(MainWindow& window, const QString& path, int timeoutMs) {
  Session& session = *window.session();
  bool arrived = false;
  bool exact = false;
  QObject context;
  const auto onResult = [&] {
    arrived = true;
    exact = exact || !session.result() || !session.result()->preview;
  };
  QObject::connect(&session, &Session::resultChanged, &context, onResult);
  QObject::connect(&session, &Session::errorOccurred, &context, [&] { arrived = exact = true; });
  QElapsedTimer timer;
  timer.start();
  window.openImage(path);
  // The first result (the embedding, before the PCA) is what the overlay needs.
  const auto waitFor = [&](const bool& flag) {
    while (!flag && timer.elapsed() < timeoutMs) {
      waitForEvents(50);
    }
    window.imageView()->repaint();
    return static_cast<double>(timer.nsecsElapsed()) / 1e6;
  };
  OpenTiming timing;
  timing.firstMs = waitFor(arrived);
  timing.exactMs = exact ? timing.firstMs : waitFor(exact);
  waitForSession(session, timeoutMs);
  return timing;
}

QString memoryUsage() {
  QFile status(QStringLiteral("/proc/self/status"));
  if (!status.open(QIODevice::ReadOnly | QIODevice::Text)) return {};
  QStringList parts;
  for (const QByteArray& line : status.readAll().split('\n')) {
    if (line.startsWith("VmHWM:") || line.startsWith("VmRSS:")) {
      const QList<QByteArray> fields = line.simplified().split(' ');
      if (fields.size() >= 2) {
        parts << QStringLiteral("%1 %2 MB")
                     .arg(QString::fromLatin1(fields[0].chopped(1)))
                     .arg(fields[1].toDouble() / 1024.0, 0, 'f', 1);
      }
    }
  }
  return parts.join(QStringLiteral(", "));
}

bool applyLaunchOptions(MainWindow& window, const LaunchOptions& options, QString* error,
                        double* openToPaintMs, bool* badUsage) {
  const auto usage = [&](const QString& message) {
    *error = message;
    if (badUsage) *badUsage = true;
    return false;
  };
  Session& session = *window.session();
  if (options.heads > 0) session.setHeadsOverride(options.heads);
  if (options.fastDecode) {
    PipelineConfig config = session.config();
    config.fastDecode = true;
    session.setConfig(config);
  }
  if (!options.weights.isEmpty()) {
    if (parseInitializer(options.weights.toStdString())) {
      PipelineConfig config = session.config();
      config.weights.source = options.weights.toStdString();
      session.setConfig(config);
    } else {
      // With an image to open the weights are checked on it: nothing is computed for the
      // bundled sample the user never asked for.
      const bool checkOnSample = options.image.isEmpty();
      window.openWeights(options.weights, checkOnSample);
      if (checkOnSample) {
        waitForSession(session);
        if (!session.lastError().isEmpty()) {
          *error = session.lastError();
          return false;
        }
      }
    }
  }
  const OpenTiming timing = openAndPaint(
      window, options.image.isEmpty() ? QStringLiteral(":/patchlens/sample.png") : options.image);
  if (openToPaintMs) *openToPaintMs = timing.firstMs;
  if (!session.hasResult()) {
    *error = session.lastError();
    return false;
  }
  if (!options.overlay.isEmpty()) {
    const QString kind = options.overlay.section(QLatin1Char(':'), 0, 0);
    if (const auto parsed = parseOverlayKind(kind)) session.setOverlay(*parsed);
    if (kind == QLatin1String("channel") && options.overlay.contains(QLatin1Char(':'))) {
      session.setChannel(options.overlay.section(QLatin1Char(':'), 1).toInt());
    }
  }
  if (!options.colormap.isEmpty())
    session.setColormapChoice(Colormap::parse(options.colormap.toStdString()));
  const GridSize grid = session.result()->embedding.grid;
  for (const auto& [name, pos] :
       {std::pair{"select", options.select}, std::pair{"hover", options.hover}}) {
    if (pos && (pos->row < 0 || pos->row >= grid.rows || pos->col < 0 || pos->col >= grid.cols)) {
      return usage(QCoreApplication::translate("LaunchOptions",
                                               "--%1 %2,%3 is outside the %4 x %5 patch grid "
                                               "(rows 0..%6, columns 0..%7)")
                       .arg(QLatin1String(name))
                       .arg(pos->row)
                       .arg(pos->col)
                       .arg(grid.rows)
                       .arg(grid.cols)
                       .arg(grid.rows - 1)
                       .arg(grid.cols - 1));
    }
  }
  if (options.select) session.setSelection(*options.select);
  if ((session.overlay() == OverlayKind::Attention || session.overlay() == OverlayKind::Rollout) &&
      !options.overlay.isEmpty() && !session.hasTransformer()) {
    return usage(QCoreApplication::translate("LaunchOptions", "--overlay %1: %2")
                     .arg(options.overlay, session.noTransformerReason()));
  }
  if (options.heads > 0 && !session.hasTransformer()) {
    // As the CLI: --heads that the weights cannot take is an error, not a silent fallback.
    const QString why = session.result()->noTransformer;
    *error = QCoreApplication::translate("LaunchOptions", "--heads %1: %2")
                 .arg(options.heads)
                 .arg(why.isEmpty() ? session.noTransformerReason() : why);
    return false;
  }
  if (!applyTransformerOptions(window, options, error, badUsage)) return false;
  if (options.original) window.imageView()->setShowOriginal(true);
  if (!options.layout.isEmpty()) {
    if (TransformerViews* views = TransformerViews::of(window)) views->applyTransformerLayout();
    QCoreApplication::processEvents();
  }
  if (!options.dock.isEmpty()) window.raiseDock(options.dock);
  // The prediction and the Grad-CAM / relevance come after the forward: a screenshot waits.
  if (options.dock == QLatin1String("prediction") || session.overlay() == OverlayKind::GradCam ||
      session.overlay() == OverlayKind::Relevance) {
    QElapsedTimer timer;
    timer.start();
    const ExplainSession& explain = *session.explain();
    while (
        (explain.isBusy() || (!explain.explanation() && explain.unavailableReason().isEmpty())) &&
        timer.elapsed() < 300000)
      waitForEvents(50);
    QCoreApplication::processEvents();
  }
  // The analysis docks compute after the embedding: a screenshot waits for them.
  if (AnalysisViews* views = AnalysisViews::of(window);
      views && AnalysisViews::isDockName(options.dock))
    views->waitUntilIdle();
  if (options.hover) {
    QCoreApplication::processEvents();
    ImageView* view = window.imageView();
    const QPointF centre = view->patchCenter(*options.hover);
    QMouseEvent move(QEvent::MouseMove, centre, view->mapToGlobal(centre), Qt::NoButton,
                     Qt::NoButton, Qt::NoModifier);
    QCoreApplication::sendEvent(view, &move);
  }
  return true;
}

namespace {

struct Timing {
  double median = 0.0;
  double max = 0.0;
};

Timing summarize(std::vector<double> samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], samples.back()};
}

}  // namespace

QString measureInteraction(MainWindow& window, int repetitions, int reopens) {
  Session& session = *window.session();
  if (!session.hasResult()) return QStringLiteral("no image loaded");
  const auto& result = session.result();
  const GridSize grid = result->embedding.grid;
  const int dim = result->embedDim();
  // The analyses that follow an open (PCA, filter PCA, reconstruction) run on the pool
  // threads: a user's clicks come after them, so the timing does too (on 2 cores they would
  // otherwise share the CPU with the GUI thread).
  if (AnalysisViews* views = AnalysisViews::of(window)) views->waitUntilIdle();
  waitForSession(session);
  QCoreApplication::processEvents();

  std::vector<double> channelView;
  std::vector<double> channelAll;
  std::vector<double> clickAll;
  QElapsedTimer timer;
  for (int i = 0; i < repetitions; ++i) {
    // Channel change -> the image view repainted (synchronous paint of that widget).
    timer.start();
    session.setChannel((session.channel() + 1) % dim);
    window.imageView()->repaint();
    channelView.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
    // ... and every other view that follows the channel painted too.
    QCoreApplication::processEvents();
    channelAll.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
  }
  for (int i = 0; i < repetitions; ++i) {
    // Click -> selection -> inspector, channel panel, matrix updated and painted.
    timer.start();
    session.setSelection({(i * 7) % grid.rows, (i * 5) % grid.cols});
    QCoreApplication::processEvents();
    clickAll.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
  }
  const Timing a = summarize(channelView);
  const Timing b = summarize(channelAll);
  const Timing c = summarize(clickAll);
  QString reopenText;
  if (reopens > 0) {
    std::vector<double> openAll;
    std::vector<double> exactAll;
    const QString path = result->imagePath;
    for (int i = 0; i < reopens; ++i) {
      const OpenTiming timing = openAndPaint(window, path);
      openAll.push_back(timing.firstMs);
      exactAll.push_back(timing.exactMs);
    }
    const Timing o = summarize(openAll);
    const Timing e = summarize(exactAll);
    const ComputeResult::Timings& t = session.result()->timings;
    reopenText = QStringLiteral(
                     "\nopen again -> image view painted with the overlay: median %1 ms, max %2 ms "
                     "(%3 times); with the "
                     "exact result: median %9 ms, max %10 ms (last: decode %4 ms, weights + "
                     "preprocess %5 ms, embed %6 ms, "
                     "analyses + display images %7 ms; then PCA %8 ms)")
                     .arg(o.median, 0, 'f', 1)
                     .arg(o.max, 0, 'f', 1)
                     .arg(reopens)
                     .arg(t.decodeMs, 0, 'f', 1)
                     .arg(t.preprocessMs, 0, 'f', 1)
                     .arg(t.embedMs, 0, 'f', 1)
                     .arg(t.analysisMs, 0, 'f', 1)
                     .arg(t.pcaMs, 0, 'f', 1)
                     .arg(e.median, 0, 'f', 1)
                     .arg(e.max, 0, 'f', 1);
  }
  return QStringLiteral(
             "grid %1x%2, D=%3, %4 repetitions, window %5x%6\n"
             "channel change -> image view repainted: median %7 ms, max %8 ms\n"
             "channel change -> all views updated and painted: median %9 ms, max %10 ms\n"
             "click (select patch) -> inspector and all views updated and painted: median %11 ms, "
             "max %12 ms")
             .arg(grid.rows)
             .arg(grid.cols)
             .arg(dim)
             .arg(repetitions)
             .arg(window.width())
             .arg(window.height())
             .arg(a.median, 0, 'f', 2)
             .arg(a.max, 0, 'f', 2)
             .arg(b.median, 0, 'f', 2)
             .arg(b.max, 0, 'f', 2)
             .arg(c.median, 0, 'f', 2)
             .arg(c.max, 0, 'f', 2) +
         reopenText;
}

}  // namespace patchlens
