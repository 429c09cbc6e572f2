#include "ui/transformer_launch.h"

#include <QCheckBox>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QSlider>
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "core/io/error.h"
#include "ui/base/qt_conversions.h"
#include "ui/launch_options.h"
#include "ui/main_window.h"
#include "ui/panels/attention_panel.h"
#include "ui/panels/foreground_pca_panel.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/session.h"
#include "ui/views/figure_widget.h"
#include "ui/views/image_view.h"

namespace patchlens {

namespace {

QString tr(const char* text) {
  return QCoreApplication::translate("TransformerLaunch", text);
}

double msSince(const QElapsedTimer& timer) {
  return static_cast<double>(timer.nsecsElapsed()) / 1e6;
}

std::pair<double, double> medianMax(std::vector<double> v) {
  if (v.empty()) return {0, 0};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.back()};
}

}  // namespace

bool applyTransformerOptions(MainWindow& window, const LaunchOptions& options, QString* error,
                             bool* badUsage) {
  Session& session = *window.session();
  const bool wanted = !options.layer.isEmpty() || options.head || !options.query.isEmpty() ||
                      !options.source.isEmpty();
  if (wanted && !session.hasTransformer()) {
    *error = session.noTransformerReason();
    return false;
  }
  if (!options.layer.isEmpty()) {
    try {
      session.setLayer(session.result()->trace->layerIndex(options.layer.toStdString()));
    } catch (const Error& e) {
      *error = QStringLiteral("--layer: ") + toQString(e.reason());
      if (badUsage) *badUsage = true;
      return false;
    }
  }
  // Set whenever --head or --query is (checked above).
  const LayerTrace* traceOnScreen =
      session.hasTransformer() ? session.result()->trace.get() : nullptr;
  if (options.head && traceOnScreen) {
    const LayerTrace& trace = *traceOnScreen;
    // As the CLI's attention:L,H: a head the model does not have is refused, not clamped.
    if (*options.head < -1 || *options.head >= trace.heads) {
      *error = tr("--head %1: the model has %2 heads (0..%3, or -1 for their mean)")
                   .arg(*options.head)
                   .arg(trace.heads)
                   .arg(trace.heads - 1);
      if (badUsage) *badUsage = true;
      return false;
    }
    session.setHead(*options.head);
  }
  if (!options.query.isEmpty() && traceOnScreen) {
    const LayerTrace& trace = *traceOnScreen;
    // The CLI's --query rule: cls, dist, reg N (any case, "reg:N"), or a patch R,C.
    try {
      const TokenQuery query = TokenQuery::parse(options.query.toStdString());
      const int token = query.token(trace);
      if (token < trace.prefixTokens) {
        session.setPrefixQuery(token);
      } else {
        session.setSelection({query.row, query.col});
        session.setPrefixQuery(std::nullopt);
      }
    } catch (const Error& e) {
      *error = tr("--query %1: %2").arg(options.query, toQString(e.reason()));
      if (badUsage) *badUsage = true;
      return false;
    } catch (const std::invalid_argument& e) {
      *error = tr("--query %1: %2").arg(options.query, toQString(e.what()));
      if (badUsage) *badUsage = true;
      return false;
    }
  }
  if (!options.source.isEmpty()) {
    const std::optional<TokenSource> source = parseTokenSource(options.source.toStdString());
    if (!source) {
      *error = tr("--source %1: tokens, queries, keys or values").arg(options.source);
      if (badUsage) *badUsage = true;
      return false;
    }
    session.setTokenSource(*source);
    if (*source != TokenSource::Tokens && !session.sourceApplies()) {
      *error = tr("--source %1: queries, keys and values belong to a block, give --layer L "
                  "(1..depth)")
                   .arg(options.source);
      if (badUsage) *badUsage = true;
      return false;
    }
    QElapsedTimer timer;
    timer.start();
    while (session.isSourcePending() && timer.elapsed() < 60000) waitForEvents(20);
  }
  if (options.foreground) {
    if (TransformerViews* views = TransformerViews::of(window)) {
      views->pcaPanel()->thresholdSlider()->setValue(static_cast<int>(*options.foreground * 100));
      views->pcaPanel()->foregroundBox()->setChecked(true);
      QElapsedTimer timer;
      timer.start();
      while (views->pcaPanel()->isComputing() && timer.elapsed() < 30000) waitForEvents(20);
    }
  }
  QCoreApplication::processEvents();
  return true;
}

QString measureTransformer(MainWindow& window, int repetitions, int reopens) {
  Session& session = *window.session();
  if (!session.hasTransformer())
    return tr("transformer: none (%1)").arg(session.noTransformerReason());
  TransformerViews* views = TransformerViews::of(window);
  // Copied: the reopens below replace the trace.
  const LayerTrace& shown = *session.result()->trace;
  const int layers = shown.layerCount();
  const int depth = shown.depth, heads = shown.heads, tokens = shown.tokens();
  const int gridRows = shown.gridRows, gridCols = shown.gridCols;
  QElapsedTimer timer;
  // Layer change -> image view repainted; then every view that follows the layer.
  std::vector<double> layerView, layerAll;
  for (int i = 0; i < repetitions; ++i) {
    timer.start();
    session.setLayer((session.result()->layerIndex + 1) % layers);
    window.imageView()->repaint();
    layerView.push_back(msSince(timer));
    QCoreApplication::processEvents();
    layerAll.push_back(msSince(timer));
  }
  // Click on a patch -> the attention dock's head maps and the attention overlay painted.
  session.setOverlay(OverlayKind::Attention);
  if (views) views->raiseDock(QStringLiteral("attention"));
  session.setLayer(layers - 2);
  QCoreApplication::processEvents();
  std::vector<double> click, clickAll;
  for (int i = 0; i < repetitions; ++i) {
    timer.start();
    session.setSelection({(i * 7) % gridRows, (i * 5) % gridCols});
    if (views) views->attentionPanel()->figureWidget()->repaint();
    window.imageView()->repaint();
    click.push_back(msSince(timer));
    QCoreApplication::processEvents();
    clickAll.push_back(msSince(timer));
  }
  // Open -> the final layer's PCA on screen.
  session.setOverlay(OverlayKind::Pca);
  session.setLayer(layers - 1);
  QCoreApplication::processEvents();
  std::vector<double> open;
  double forwardMs = 0, layersMs = 0;
  const QString path = session.result()->imagePath;
  for (int i = 0; i < reopens; ++i) {
    // The new image's layers are those of a trace other than the one on screen (held here,
    // so that its address cannot be reused by the new one).
    const std::shared_ptr<const LayerTrace> previous = session.result()->trace;
    timer.start();
    window.openImage(path);
    while (timer.elapsed() < 120000) {
      waitForEvents(5);
      const auto& r = session.result();
      // On screen as soon as the final layer's PCA is: the other layers' PCA may still run.
      if (r && r->trace && r->trace != previous && r->layerIndex == layers - 1 && r->hasPca())
        break;
    }
    window.imageView()->repaint();
    open.push_back(msSince(timer));
    waitForSession(session);  // the next open starts from an idle session
    forwardMs = session.baseResult()->timings.transformerMs;
    layersMs = session.baseResult()->timings.layersMs;
  }
  const auto [lv, lvMax] = medianMax(layerView);
  const auto [la, laMax] = medianMax(layerAll);
  const auto [c, cMax] = medianMax(click);
  const auto [ca, caMax] = medianMax(clickAll);
  const auto [o, oMax] = medianMax(open);
  return tr("transformer: depth %1, %2 heads, T = %3 tokens, %4 layers\n"
            "layer change -> image view repainted: median %5 ms, max %6 ms; all views: median "
            "%7 ms, max %8 ms\n"
            "click (patch as query) -> attention dock and overlay painted: median %9 ms, max %10 "
            "ms; all views: median %11 ms, max %12 ms\n"
            "open -> final-layer PCA on screen: median %13 ms, max %14 ms (%15 times; last: "
            "forward with rollout and distances %16 ms, every layer's maps and PCA %17 ms)")
      .arg(depth)
      .arg(heads)
      .arg(tokens)
      .arg(layers)
      .arg(lv, 0, 'f', 2)
      .arg(lvMax, 0, 'f', 2)
      .arg(la, 0, 'f', 2)
      .arg(laMax, 0, 'f', 2)
      .arg(c, 0, 'f', 2)
      .arg(cMax, 0, 'f', 2)
      .arg(ca, 0, 'f', 2)
      .arg(caMax, 0, 'f', 2)
      .arg(o, 0, 'f', 1)
      .arg(oMax, 0, 'f', 1)
      .arg(reopens)
      .arg(forwardMs, 0, 'f', 1)
      .arg(layersMs, 0, 'f', 1);
}

}  // namespace patchlens
