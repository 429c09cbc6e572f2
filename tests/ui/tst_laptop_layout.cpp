#include <QAbstractButton>
#include <QComboBox>
#include <QDockWidget>
#include <QLabel>
#include <QLineEdit>
#include <QMainWindow>
#include <QMenu>
#include <QPaintDevice>
#include <QPaintEngine>
#include <QPainter>
#include <QScrollArea>
#include <QScrollBar>
#include <QSet>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabBar>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QToolBar>
#include <QtTest>
#include <climits>
#include <memory>

#include "core/model/vision_transformer.h"
#include "ui/base/color_scale.h"
#include "ui/figures/attention_heads_figure.h"
#include "ui/figures/export_dialog.h"
#include "ui/figures/pca_rgb_figure.h"
#include "ui/launch_options.h"
#include "ui/main_window.h"
#include "ui/panels/analysis_views.h"
#include "ui/panels/attention_panel.h"
#include "ui/panels/foreground_pca_panel.h"
#include "ui/panels/patch_inspector.h"
#include "ui/panels/reconstruction_panel.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/session.h"
#include "ui/views/colorbar.h"
#include "ui/views/embedding_matrix_view.h"
#include "ui/views/figure_menu.h"
#include "ui/views/figure_widget.h"
#include "ui/views/heatmap_view.h"
#include "ui/views/image_view.h"

using namespace patchlens;

namespace {

const QString kChelsea = QStringLiteral(PATCHLENS_TEST_DATA "/chelsea.png");

QString plain(QString text) {
  return text.remove(QLatin1Char('&'));
}

// Every text a person must be able to read, too wide for the widget that shows it (on
// screen: a dock behind another's tab is checked when raised).
QStringList clippedTexts(const QWidget& root) {
  QStringList clipped;
  for (const QLabel* label : root.findChildren<QLabel*>()) {
    if (!label->isVisible() || label->visibleRegion().isEmpty() || label->wordWrap() ||
        label->text().isEmpty() || Qt::mightBeRichText(label->text()) ||
        label->text().contains(QLatin1Char('\n')))
      continue;
    const int needed = label->fontMetrics().horizontalAdvance(plain(label->text()));
    if (needed > label->contentsRect().width() + 1)
      clipped << QStringLiteral("label '%1' needs %2 px, has %3")
                     .arg(label->text())
                     .arg(needed)
                     .arg(label->contentsRect().width());
  }
  for (const QAbstractButton* button : root.findChildren<QAbstractButton*>()) {
    if (!button->isVisible() || button->visibleRegion().isEmpty() || button->text().isEmpty())
      continue;
    // The style's own minimum holds the whole text (plus icon, indicator and margins).
    if (button->width() < button->minimumSizeHint().width())
      clipped << QStringLiteral("button '%1' is %2 px wide, needs %3")
                     .arg(button->text())
                     .arg(button->width())
                     .arg(button->minimumSizeHint().width());
  }
  for (const QComboBox* combo : root.findChildren<QComboBox*>()) {
    if (!combo->isVisible() || combo->visibleRegion().isEmpty()) continue;
    const int needed = combo->fontMetrics().horizontalAdvance(combo->currentText());
    // The arrow and frame take about 24 px; at its size hint (the style's room for its
    // longest entry, QComboBox::AdjustToContents) a combo shows every entry whole.
    if (needed > combo->width() - 24 && combo->width() < combo->sizeHint().width())
      clipped << QStringLiteral("combo '%1' is %2 px wide, its text needs %3 + 24 (hint %4)")
                     .arg(combo->currentText())
                     .arg(combo->width())
                     .arg(needed)
                     .arg(combo->sizeHint().width());
  }
  for (const QTabBar* bar : root.findChildren<QTabBar*>()) {
    if (!bar->isVisible()) continue;
    for (int i = 0; i < bar->count(); ++i) {
      // Tabs on a side run their text along the height.
      const QTabBar::Shape shape = bar->shape();
      const bool vertical = shape == QTabBar::RoundedWest || shape == QTabBar::RoundedEast ||
                            shape == QTabBar::TriangularWest || shape == QTabBar::TriangularEast;
      const int length = vertical ? bar->tabRect(i).height() : bar->tabRect(i).width();
      const int needed = bar->fontMetrics().horizontalAdvance(plain(bar->tabText(i)));
      if (needed > length - 8)
        clipped << QStringLiteral("tab '%1' is %2 px long, its text needs %3 + 8")
                       .arg(bar->tabText(i))
                       .arg(length)
                       .arg(needed);
    }
  }
  // A panel wider than its scroll area (horizontal scrolling off) is cut at the right edge.
  for (const QScrollArea* scroll : root.findChildren<QScrollArea*>()) {
    if (!scroll->isVisible() || !scroll->widget() ||
        scroll->horizontalScrollBarPolicy() != Qt::ScrollBarAlwaysOff)
      continue;
    if (scroll->widget()->width() > scroll->viewport()->width())
      clipped << QStringLiteral("panel '%1' is %2 px wide in a %3 px dock")
                     .arg(scroll->widget()->objectName())
                     .arg(scroll->widget()->width())
                     .arg(scroll->viewport()->width());
  }
  return clipped;
}

// A paint device that keeps the text painted on it: what a figure or a style drew of a
// caption, title or tab, after any elision ("Embedding matrix, Block 6: … · scale …").
class TextRecorder : public QPaintEngine {
 public:
  TextRecorder() : QPaintEngine(QPaintEngine::AllFeatures) {}
  bool begin(QPaintDevice*) override { return true; }
  bool end() override { return true; }
  void updateState(const QPaintEngineState& changed) override {
    if (changed.state() & QPaintEngine::DirtyTransform) m_transform = changed.transform();
  }
  void drawPixmap(const QRectF&, const QPixmap&, const QRectF&) override {}
  void drawImage(const QRectF&, const QImage&, const QRectF&, Qt::ImageConversionFlags) override {}
  void drawPath(const QPainterPath&) override {}
  void drawPolygon(const QPointF*, int, PolygonDrawMode) override {}
  void drawTextItem(const QPointF& baseline, const QTextItem& item) override {
    texts << item.text();
    rects << m_transform.mapRect(QRectF(baseline.x(), baseline.y() - item.ascent(), item.width(),
                                        item.ascent() + item.descent()));
  }
  Type type() const override { return QPaintEngine::User; }
  QStringList texts;
  QList<QRectF> rects;  // where each text was painted, in device pixels

 private:
  QTransform m_transform;
};

class TextDevice : public QPaintDevice {
 public:
  explicit TextDevice(QSize size) : m_size(size) {}
  QPaintEngine* paintEngine() const override { return &m_engine; }
  const QStringList& texts() const { return m_engine.texts; }
  const QList<QRectF>& rects() const { return m_engine.rects; }

 protected:
  int metric(PaintDeviceMetric metric) const override {
    switch (metric) {
      case PdmWidth:
        return m_size.width();
      case PdmHeight:
        return m_size.height();
      case PdmWidthMM:
        return m_size.width() * 254 / 960;
      case PdmHeightMM:
        return m_size.height() * 254 / 960;
      case PdmDepth:
        return 32;
      case PdmNumColors:
        return INT_MAX;
      case PdmDevicePixelRatio:
        return 1;
      case PdmDevicePixelRatioScaled:
        return static_cast<int>(devicePixelRatioFScale());
      default:
        return 96;  // the dpi
    }
  }

 private:
  mutable TextRecorder m_engine;
  QSize m_size;
};

// Every text painted in `root` (labels, tabs, dock titles, figure titles, captions and
// colorbars) that was cut to "…": a text the program itself names with "…" (an action, a
// button, a label, a status message) is whole.
QStringList elidedTexts(QWidget& root) {
  QSet<QString> whole;
  for (const QAction* action : root.findChildren<QAction*>()) whole << plain(action->text());
  for (const QAbstractButton* button : root.findChildren<QAbstractButton*>())
    whole << plain(button->text());
  for (const QLabel* label : root.findChildren<QLabel*>()) whole << plain(label->text());
  if (auto* window = qobject_cast<QMainWindow*>(&root))
    whole << window->statusBar()->currentMessage();
  TextDevice device(root.size());
  root.render(&device);
  QStringList elided;
  for (const QString& text : device.texts())
    if (text.contains(QChar(0x2026)) && !whole.contains(text)) elided << text;
  return elided;
}

// Every text painted over another, or past the edge of the widget that paints it (cut by the
// dock's edge rather than elided: "h0 · 22h1 · 21", a colorbar's "0.2" over its "0.1", a
// status message running off the window). Each widget is painted alone, without its children.
QStringList overlappingOrCutTexts(QWidget& root) {
  QStringList found;
  QList<QWidget*> widgets = root.findChildren<QWidget*>();
  widgets.prepend(&root);
  for (QWidget* widget : widgets) {
    // A line edit scrolls its text by design; hidden and covered widgets show nothing.
    if (!widget->isVisible() || widget->visibleRegion().isEmpty() ||
        qobject_cast<QLineEdit*>(widget))
      continue;
    TextDevice device(widget->size());
    widget->render(&device, QPoint(), QRegion(), QWidget::DrawWindowBackground);
    const QRectF bounds = QRectF(widget->rect()).adjusted(-1, -1, 1, 1);
    const QString where = QStringLiteral("%1 '%2'").arg(
        QString::fromLatin1(widget->metaObject()->className()), widget->objectName());
    const QList<QRectF>& rects = device.rects();
    for (qsizetype i = 0; i < rects.size(); ++i) {
      const QString& text = device.texts()[i];
      if (text.trimmed().isEmpty()) continue;
      // (A scroll area's viewport paints rows that scroll into view.)
      if (!bounds.contains(rects[i]) &&
          widget->objectName() != QLatin1String("qt_scrollarea_viewport"))
        found << QStringLiteral("%1: '%2' at %3,%4 %5x%6 runs past its %7x%8")
                     .arg(where, text)
                     .arg(rects[i].x(), 0, 'f', 0)
                     .arg(rects[i].y(), 0, 'f', 0)
                     .arg(rects[i].width(), 0, 'f', 0)
                     .arg(rects[i].height(), 0, 'f', 0)
                     .arg(widget->width())
                     .arg(widget->height());
      for (qsizetype j = i + 1; j < rects.size(); ++j) {
        if (device.texts()[j].trimmed().isEmpty() || rects[i] == rects[j]) continue;
        const QRectF both = rects[i].intersected(rects[j]);
        if (both.width() > 1.5 && both.height() > 1.5) {
          found << QStringLiteral("%1: '%2' overlaps '%3' (%4 x %5 px)")
                       .arg(where, text, device.texts()[j])
                       .arg(both.width(), 0, 'f', 1)
                       .arg(both.height(), 0, 'f', 1);
          continue;
        }
        // Two captions of a figure on one line with less than 2 px between them read as one
        // word ("h0 · 22h1 · 21"). Our own painted widgets only: Qt's labels, menus and
        // check boxes run rich-text spans and a mnemonic's "F" + "ile" on without a gap.
        const QRectF apart = rects[i].adjusted(-2, 0, 2, 0).intersected(rects[j]);
        const bool ours = QByteArray(widget->metaObject()->className()).startsWith("patchlens::");
        // One string split where a glyph comes from a fallback font ("mean (" + "μ) "): the
        // pieces abut exactly on one baseline.
        const bool onePiece = std::abs(rects[i].bottom() - rects[j].bottom()) < 0.01 &&
                              (std::abs(rects[i].right() - rects[j].left()) < 0.3 ||
                               std::abs(rects[j].right() - rects[i].left()) < 0.3);
        if (ours && !onePiece && apart.width() > 0 &&
            apart.height() > 0.5 * std::min(rects[i].height(), rects[j].height()))
          found << QStringLiteral("%1: '%2' touches '%3'").arg(where, text, device.texts()[j]);
      }
    }
  }
  return found;
}

// Sizes the issue tries (QT_SCALE_FACTOR=1.5: CMake runs these functions again under it, at
// the same logical sizes), with and without View > Transformer Layout.
void sizesAndLayouts(std::initializer_list<QSize> sizes) {
  QTest::addColumn<QSize>("size");
  QTest::addColumn<bool>("transformerLayout");
  for (const QSize size : sizes) {
    QTest::addRow("%dx%d", size.width(), size.height()) << size << false;
    QTest::addRow("%dx%d transformer layout", size.width(), size.height()) << size << true;
  }
}

}  // namespace

// The main window on laptop screens (1024 x 700, 1366 x 768): docks at least their minimum,
// no text cut off; exports start from the screen's style; right-click on every figure opens
// Export… / Copy Image and selects nothing.
class tst_LaptopLayout : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void cleanup();
  void docksAndTextsFit_data();
  void docksAndTextsFit();
  void exportDialogStartsFromScreen();
  void rightClickOpensMenuKeepsSelection_data();
  void rightClickOpensMenuKeepsSelection();
  void shortcutsPageListsMenuShortcuts();
  void errorBannerClosesAndNextImageClearsStatus();
  void transformerDocksAreNotStamps_data() {
    sizesAndLayouts({QSize(1366, 768), QSize(1024, 700)});
  }
  void transformerDocksAreNotStamps();
  void dockTabsFitWithoutScrolling_data() {
    sizesAndLayouts({QSize(1024, 700), QSize(1366, 768), QSize(1920, 1080)});
  }
  void dockTabsFitWithoutScrolling();
  void everyControlAndTextIsWhole_data() {
    sizesAndLayouts({QSize(1024, 700), QSize(1366, 768), QSize(1920, 1080)});
  }
  void everyControlAndTextIsWhole();
  // A model of 4 heads on a 4 x 6 grid (the SigLIP 2 fixture): its tiles are wide and low.
  void fewHeadsTextsApart_data() { sizesAndLayouts({QSize(1366, 768), QSize(1024, 700)}); }
  void fewHeadsTextsApart();
  // The heads figure painted at many sizes: every caption whole, one wording for all heads.
  void headCaptionsNeverElided();
  // Every dock raised in turn: no text over another, past its widget's edge, elided or too
  // wide for its control.
  void everyDockTextsApart_data() {
    sizesAndLayouts({QSize(1024, 700), QSize(1366, 768), QSize(1920, 1080)});
  }
  void everyDockTextsApart();
  // At 1024 x 700 the token plot starts above the fold and ends below it (scrolled to).
  void inspectorAndColorbarFit_data() {
    sizesAndLayouts({QSize(1024, 700), QSize(1366, 768), QSize(1920, 1080)});
  }
  void inspectorAndColorbarFit();
  void maskScreenshots();

 private:
  bool openWindow(QSize size);
  // openWindow, then the fixture ViT (12 blocks, 12 heads), then the layout asked for.
  bool openTransformer(QSize size, bool transformerLayout,
                       const QString& weights = QStringLiteral(
                           PATCHLENS_TEST_DATA "/transformer/timm_vit_f32/model.safetensors"));

  std::unique_ptr<MainWindow> m_window;
};

void tst_LaptopLayout::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_laptop_layout"));
}

void tst_LaptopLayout::cleanup() {
  FigureMenu::setHook({});
  m_window.reset();
}

bool tst_LaptopLayout::openWindow(QSize size) {
  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(size);
  m_window->show();
  if (!QTest::qWaitForWindowExposed(m_window.get())) return false;
  m_window->openImage(kChelsea);
  Session* session = m_window->session();
  if (!QTest::qWaitFor([&] { return session->hasResult() && !session->isBusy(); }, 30000))
    return false;
  session->setSelection({7, 7});
  QCoreApplication::processEvents();
  return true;
}

bool tst_LaptopLayout::openTransformer(QSize size, bool transformerLayout, const QString& weights) {
  if (!openWindow(size)) return false;
  Session* session = m_window->session();
  m_window->openWeights(weights);
  if (!QTest::qWaitFor([&] { return session->hasTransformer() && !session->isBusy(); }, 60000))
    return false;
  if (transformerLayout) TransformerViews::of(*m_window)->applyTransformerLayout();
  QTest::qWait(100);  // the tab positions follow the layout on the next turn of the loop
  QCoreApplication::processEvents();
  return true;
}

void tst_LaptopLayout::docksAndTextsFit_data() {
  QTest::addColumn<QSize>("size");
  QTest::addColumn<QString>("dock");  // raised before checking ("" = the start layout)
  for (const QSize size : {QSize(1024, 700), QSize(1366, 768)}) {
    const QString name = QStringLiteral("%1x%2").arg(size.width()).arg(size.height());
    for (const char* dock : {"", "model", "channel", "filter-pca", "reconstruction", "filters"})
      QTest::addRow("%s %s", qPrintable(name), *dock ? dock : "start") << size << dock;
  }
}

void tst_LaptopLayout::docksAndTextsFit() {
  QFETCH(QSize, size);
  QFETCH(QString, dock);
  QVERIFY(openWindow(size));
  QCOMPARE(m_window->size(), size);
  if (!dock.isEmpty()) m_window->raiseDock(dock);
  if (AnalysisViews* views = AnalysisViews::of(*m_window)) views->waitUntilIdle();
  QCoreApplication::processEvents();

  int visibleDocks = 0;
  for (const QDockWidget* d : m_window->findChildren<QDockWidget*>()) {
    if (!d->isVisible()) continue;
    ++visibleDocks;
    QVERIFY2(d->width() >= d->minimumSizeHint().width() && d->width() >= d->minimumWidth(),
             qPrintable(QStringLiteral("%1 is %2 px wide, its minimum %3")
                            .arg(d->objectName())
                            .arg(d->width())
                            .arg(d->minimumSizeHint().width())));
    QVERIFY2(d->height() >= d->minimumHeight(), qPrintable(d->objectName()));
    // The dock's title is shown whole (not "Patch inspe…").
    const int title = d->fontMetrics().horizontalAdvance(d->windowTitle());
    QVERIFY2(title < d->width() - 40, qPrintable(d->windowTitle()));
  }
  QVERIFY(visibleDocks >= 3);
  // The image keeps a useful share of the window.
  QString dockWidths;
  for (const QDockWidget* d : m_window->findChildren<QDockWidget*>())
    if (d->isVisible()) dockWidths += QStringLiteral(" %1 %2").arg(d->objectName()).arg(d->width());
  QVERIFY2(m_window->imageView()->width() >= size.width() / 3,
           qPrintable(QString::number(m_window->imageView()->width()) + dockWidths));
  const QStringList clipped = clippedTexts(*m_window);
  QVERIFY2(clipped.isEmpty(), qPrintable(clipped.join(QStringLiteral("\n"))));
}

void tst_LaptopLayout::exportDialogStartsFromScreen() {
  QVERIFY(openWindow(QSize(1366, 768)));
  Session* session = m_window->session();
  session->setColormapChoice(ColormapId::Viridis);
  session->setScaleChoice(ScaleMode::Percentile);
  session->setOpacity(0.45);
  session->setOverlay(OverlayKind::Channel);
  session->setChannel(12);
  AnalysisViews* views = AnalysisViews::of(*m_window);
  QVERIFY(views);
  views->reconstructionPanel()->setComponents(13);

  // File > Export… (Ctrl+E), as a user opens it.
  QAction* exportAction = nullptr;
  for (QAction* act : m_window->findChildren<QAction*>()) {
    if (act->shortcut() == QKeySequence(QStringLiteral("Ctrl+E"))) exportAction = act;
  }
  QVERIFY(exportAction);
  exportAction->trigger();
  auto* dialog = m_window->findChild<ExportDialog*>();
  QVERIFY(dialog);
  QCOMPARE(dialog->kind(), QStringLiteral("channel:12"));
  QTRY_VERIFY(dialog->isFigureReady());
  const FigureOptions& options = dialog->figureOptions();
  QCOMPARE(options.colormap, std::optional(ColormapId::Viridis));
  QCOMPARE(options.scale, std::optional(ScaleMode::Percentile));
  QVERIFY(options.opacity.has_value());
  QCOMPARE(*options.opacity, 0.45);
  // ... and the dialog says so.
  auto* style = dialog->findChild<QLabel*>(QStringLiteral("styleInfo"));
  QVERIFY(style);
  QVERIFY2(style->text().contains(QStringLiteral("viridis")) &&
               style->text().contains(QStringLiteral("percentile")) &&
               style->text().contains(QStringLiteral("45 %")),
           qPrintable(style->text()));
  // The reconstruction entry keeps the dock's k = 13, not every dimension.
  auto* kinds = dialog->findChild<QComboBox*>(QStringLiteral("kindBox"));
  QVERIFY(kinds);
  QVERIFY(kinds->findData(QStringLiteral("reconstruction:13")) >= 0);
  QCOMPARE(kinds->findData(QStringLiteral("reconstruction")), -1);
  dialog->close();
}

void tst_LaptopLayout::rightClickOpensMenuKeepsSelection_data() {
  QTest::addColumn<QString>("target");
  for (const char* name : {"imageView", "tokenTile", "tokenPlot", "inspectorPixels", "channelMap",
                           "matrix", "filterPcaFigure", "reconstructionFigure", "filterGallery"})
    QTest::newRow(name) << QString::fromLatin1(name);
}

void tst_LaptopLayout::rightClickOpensMenuKeepsSelection() {
  QFETCH(QString, target);
  QVERIFY(openWindow(QSize(1366, 768)));
  Session* session = m_window->session();
  session->setChannel(12);
  AnalysisViews* views = AnalysisViews::of(*m_window);
  QVERIFY(views);
  QWidget* widget = nullptr;
  if (target == QLatin1String("imageView")) {
    widget = m_window->imageView();
  } else if (target == QLatin1String("inspectorPixels")) {
    // The first heatmap of the inspector: the patch's pixels.
    widget = m_window->inspector()->findChildren<HeatmapView*>().value(0);
  } else if (target == QLatin1String("matrix")) {
    m_window->raiseDock(QStringLiteral("matrix"));
    widget = m_window->matrixView()->heatmap();
  } else {
    const char* dock = target == QLatin1String("channelMap")             ? "channel"
                       : target == QLatin1String("filterPcaFigure")      ? "filter-pca"
                       : target == QLatin1String("reconstructionFigure") ? "reconstruction"
                       : target == QLatin1String("filterGallery")        ? "filters"
                                                                         : "inspector";
    m_window->raiseDock(QString::fromLatin1(dock));
    views->waitUntilIdle();
    widget = m_window->findChild<QWidget*>(target);
  }
  QVERIFY2(widget, qPrintable(target));
  QCoreApplication::processEvents();
  QTRY_VERIFY(widget->isVisible());

  QStringList shown;
  FigureMenu::setHook([&shown](QMenu& menu) {
    for (const QAction* act : menu.actions()) shown << act->text().remove(QLatin1Char('&'));
  });
  const QPoint at(widget->width() / 2, widget->height() / 2);
  QTest::mouseClick(widget, Qt::RightButton, {}, at);
  if (shown.isEmpty()) {
    QContextMenuEvent event(QContextMenuEvent::Mouse, at, widget->mapToGlobal(at));
    QCoreApplication::sendEvent(widget, &event);
  }
  QVERIFY2(shown.contains(QStringLiteral("Export…")), qPrintable(shown.join(QLatin1Char('|'))));
  QVERIFY(shown.contains(QStringLiteral("Copy Image")));
  QCOMPARE(session->selection(), std::optional(PatchPos{7, 7}));
  QCOMPARE(session->channel(), 12);
}

void tst_LaptopLayout::shortcutsPageListsMenuShortcuts() {
  QVERIFY(openWindow(QSize(1024, 700)));
  const QString html = m_window->shortcutsHtml();
  // Every overlay has its Alt+digit, from Alt+0 (None) to Alt+8 (Rollout), Alt+9 Grad-CAM
  // (issue 22), and Relevance's Ctrl+Shift+R; no Alt+digit beyond.
  for (int digit = 0; digit <= 9; ++digit)
    QVERIFY2(
        html.contains(
            QKeySequence(QStringLiteral("Alt+%1").arg(digit)).toString(QKeySequence::NativeText)),
        qPrintable(QString::number(digit)));
  QVERIFY(html.contains(
      QKeySequence(QStringLiteral("Ctrl+Shift+R")).toString(QKeySequence::NativeText)));
  QVERIFY(html.contains(QStringLiteral("Next Channel")));
  QVERIFY(html.contains(QStringLiteral("Export Figure")));
}

void tst_LaptopLayout::errorBannerClosesAndNextImageClearsStatus() {
  QVERIFY(openWindow(QSize(1024, 700)));
  Session* session = m_window->session();
  const int imageTop = m_window->imageView()->mapTo(m_window.get(), QPoint(0, 0)).y();
  m_window->openImage(QStringLiteral(PATCHLENS_TEST_DATA "/bad/images/empty.png"));
  QTRY_VERIFY(!m_window->errorText().isEmpty());
  QVERIFY(!m_window->statusBar()->currentMessage().isEmpty());
  // The banner floats over the image: the image view has not moved down.
  QCOMPARE(m_window->imageView()->mapTo(m_window.get(), QPoint(0, 0)).y(), imageTop);
  auto* close = m_window->findChild<QAbstractButton*>(QStringLiteral("errorBannerClose"));
  QVERIFY(close);
  QTRY_VERIFY(close->isVisible());
  close->click();
  QVERIFY(m_window->errorText().isEmpty());

  // Another error, then a good image: banner and status message both go.
  m_window->openImage(QStringLiteral(PATCHLENS_TEST_DATA "/bad/images/empty.png"));
  QTRY_VERIFY(!m_window->errorText().isEmpty());
  m_window->openImage(kChelsea);
  QTRY_VERIFY(m_window->errorText().isEmpty());
  QTRY_VERIFY(!session->isBusy());
  QVERIFY2(!m_window->statusBar()->currentMessage().startsWith(QStringLiteral("Error")),
           qPrintable(m_window->statusBar()->currentMessage()));
}

// Defect 11: the DINOv2 PCA dock without its foreground step drew the input and the PCA side
// by side as ~50 px stamps at 1366 x 768; the Attention dock's mask tiles stay readable too.
void tst_LaptopLayout::transformerDocksAreNotStamps() {
  QFETCH(QSize, size);
  QFETCH(bool, transformerLayout);
  // The start layout (defect 11) and View > Transformer Layout, which once gave the PCA dock
  // half the left column (333 x 244 px at 1366 x 768: ~43 px panels).
  QVERIFY(openTransformer(size, transformerLayout));
  Session* session = m_window->session();
  TransformerViews* views = TransformerViews::of(*m_window);
  QVERIFY(views);
  views->raiseDock(QStringLiteral("foreground-pca"));
  QVERIFY(QTest::qWaitFor([&] { return session->result()->hasPca(); }, 30000));
  QCoreApplication::processEvents();
  FigureWidget* widget = views->pcaPanel()->figureWidget();
  QVERIFY(QTest::qWaitFor([&] { return widget->figure() != nullptr; }, 10000));
  const auto* pca = dynamic_cast<const PcaRgbFigure*>(widget->figure().get());
  QVERIFY(pca);
  const FigureWidget::Placement place = widget->placement();
  QVERIFY(place.valid());
  const PanelLayout layout = pca->layout(place.area);
  for (const QRectF& plot : layout.plots) {
    const QRectF shown = place.toWidget(plot);
    QVERIFY2(std::min(shown.width(), shown.height()) >= 100,
             qPrintable(QStringLiteral("a %1 x %2 px panel in a %3 x %4 dock")
                            .arg(shown.width())
                            .arg(shown.height())
                            .arg(widget->width())
                            .arg(widget->height())));
  }
  // The attention dock with DINO's masks on: each tile at least 40 px, the controls whole.
  views->raiseDock(QStringLiteral("attention"));
  AttentionPanel* attention = views->attentionPanel();
  attention->setMassThreshold(0.6f);
  QCoreApplication::processEvents();
  QVERIFY(attention->figure() && attention->figure()->massThreshold());
  const FigureWidget::Placement at = attention->figureWidget()->placement();
  QVERIFY(at.valid());
  for (const QRectF& tile : attention->figure()->layout(at.area).tiles.tiles)
    QVERIFY2(at.toWidget(tile).height() >= 40,
             qPrintable(QString::number(at.toWidget(tile).height())));
  const QStringList clipped = clippedTexts(*attention);
  QVERIFY2(clipped.isEmpty(), qPrintable(clipped.join(QStringLiteral("\n"))));
  attention->setMassThreshold(std::nullopt);
}

// Defect 13: with a transformer, nine docks shared the right column's tab strip, which
// scrolled at 1366 x 768 ("ilter PCA" cut at its top, Token norms and DINOv2 PCA off-screen).
// Every dock tab lies whole within its bar and the window; no bar shows scroll buttons.
void tst_LaptopLayout::dockTabsFitWithoutScrolling() {
  QFETCH(QSize, size);
  QFETCH(bool, transformerLayout);
  QVERIFY(openTransformer(size, transformerLayout));
  QCOMPARE(m_window->size(), size);
  int tabs = 0;
  for (const QTabBar* bar : m_window->findChildren<QTabBar*>(Qt::FindDirectChildrenOnly)) {
    if (!bar->isVisible()) continue;
    const QRect inWindow(bar->mapTo(m_window.get(), QPoint(0, 0)), bar->size());
    QVERIFY2(m_window->rect().contains(inWindow), qPrintable(bar->tabText(0)));
    for (int i = 0; i < bar->count(); ++i) {
      ++tabs;
      QVERIFY2(bar->rect().contains(bar->tabRect(i)),
               qPrintable(QStringLiteral("tab '%1' at %2,%3 %4x%5 in a %6x%7 bar")
                              .arg(bar->tabText(i))
                              .arg(bar->tabRect(i).x())
                              .arg(bar->tabRect(i).y())
                              .arg(bar->tabRect(i).width())
                              .arg(bar->tabRect(i).height())
                              .arg(bar->width())
                              .arg(bar->height())));
    }
    for (const QAbstractButton* button : bar->findChildren<QAbstractButton*>())
      QVERIFY2(!button->isVisible(), qPrintable("scroll buttons on " + bar->tabText(0)));
  }
  // Every visible dock is in front or has a tab.
  QVERIFY(tabs >= 9);
  const QStringList clipped = clippedTexts(*m_window);
  QVERIFY2(clipped.isEmpty(), qPrintable(clipped.join(QStringLiteral("\n"))));
}

// Issue 21's last gaps at 1024 x 700 and 1366 x 768: no toolbar control behind the "»"
// extension button (Scale and Opacity were), no painted text cut to "…" (the embedding
// matrix's title, the heads figure's colorbar caption "attention …"), the window its size.
void tst_LaptopLayout::everyControlAndTextIsWhole() {
  QFETCH(QSize, size);
  QFETCH(bool, transformerLayout);
  QVERIFY(openTransformer(size, transformerLayout));
  TransformerViews* views = TransformerViews::of(*m_window);
  views->raiseDock(QStringLiteral("attention"));
  m_window->raiseDock(QStringLiteral("matrix"));
  QTest::qWait(100);
  QCoreApplication::processEvents();
  QCOMPARE(m_window->size(), size);
  for (const QToolBar* bar : m_window->findChildren<QToolBar*>()) {
    if (!bar->isVisible()) continue;
    auto* extension = bar->findChild<QAbstractButton*>(QStringLiteral("qt_toolbar_ext_button"));
    QVERIFY2(!extension || !extension->isVisible(),
             qPrintable(bar->objectName() + " hides controls behind its extension button"));
    for (QAction* action : bar->actions()) {
      const QWidget* widget = bar->widgetForAction(action);
      QVERIFY2(!widget || widget->isVisible(), qPrintable(bar->objectName() + " hides a control"));
    }
  }
  for (const char* name : {"scaleCombo", "opacitySlider", "colormapCombo", "channelSpin"}) {
    auto* control = m_window->findChild<QWidget*>(QString::fromLatin1(name));
    QVERIFY2(control && control->isVisible(), name);
    const QRect shown(control->mapTo(m_window.get(), QPoint(0, 0)), control->size());
    QVERIFY2(m_window->rect().contains(shown), name);
  }
  const QStringList elided = elidedTexts(*m_window);
  QVERIFY2(elided.isEmpty(), qPrintable(elided.join(QStringLiteral("\n"))));
  const QStringList clipped = clippedTexts(*m_window);
  QVERIFY2(clipped.isEmpty(), qPrintable(clipped.join(QStringLiteral("\n"))));
  const QStringList cut = overlappingOrCutTexts(*m_window);
  QVERIFY2(cut.isEmpty(), qPrintable(cut.join(QStringLiteral("\n"))));
  QCOMPARE(m_window->size(), size);
}

// The 4-head model's head captions ran into each other ("h0 · 22h1 · 21") and its short
// colorbar's numbers overlapped ("0.2" over "0.1").
void tst_LaptopLayout::fewHeadsTextsApart() {
  QFETCH(QSize, size);
  QFETCH(bool, transformerLayout);
  // With its Siglip2ImageProcessor sidecar: chelsea.png becomes 4 rows x 6 columns of 8 px.
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  const QString data = QStringLiteral(PATCHLENS_TEST_DATA "/siglip2_hf/");
  for (const char* file :
       {"vision/model.safetensors", "vision/config.json", "processor/preprocessor_config.json"})
    QVERIFY(QFile::copy(data + QLatin1String(file),
                        dir.filePath(QFileInfo(QLatin1String(file)).fileName())));
  QVERIFY(
      openTransformer(size, transformerLayout, dir.filePath(QStringLiteral("model.safetensors"))));
  QCOMPARE(m_window->session()->result()->geometry.inputWidth, 48);
  QCOMPARE(m_window->session()->result()->model->config().numHeads, 4);
  TransformerViews::of(*m_window)->raiseDock(QStringLiteral("attention"));
  QTest::qWait(100);
  QCoreApplication::processEvents();
  const QStringList cut = overlappingOrCutTexts(*m_window);
  QVERIFY2(cut.isEmpty(), qPrintable(cut.join(QStringLiteral("\n"))));
  const QStringList elided = elidedTexts(*m_window);
  QVERIFY2(elided.isEmpty(), qPrintable(elided.join(QStringLiteral("\n"))));
}

// Under Xvfb (1366 x 720 of window) the 12-head figure showed "h…" for h10 and h11: a name
// cut to another head's. Painted from 160 to 640 pt wide and 140 to 420 pt high, the captions
// read "h0 · 22" (all), "h0" (all), "0" (all) or none (the subtitle gives the order), the
// mean "mean…" or "μ"; never "…".
void tst_LaptopLayout::headCaptionsNeverElided() {
  for (const int heads : {4, 12}) {
    RowMatrixF maps = RowMatrixF::Constant(heads, 24, 1.0f / 24);
    VectorF distances(heads);
    for (int h = 0; h < heads; ++h) {
      maps(h, h % 24) += 0.5f;
      distances(h) = 100.0f + static_cast<float>(h);
    }
    for (const GridSize grid : {GridSize{4, 6}, GridSize{6, 4}}) {
      const AttentionHeadsFigure figure(maps, distances, grid, QStringLiteral("block 6"),
                                        QStringLiteral("patch (1, 2)"), 1, 2, heads - 2,
                                        ColormapId::Viridis,
                                        attentionColorScale(ScaleMode::MinMax, maps), std::nullopt);
      for (int width = 160; width <= 640; width += 40) {
        for (int height = 140; height <= 420; height += 70) {
          TextDevice device(QSize(width, height));
          QPainter painter(&device);
          figure.paint(painter, QRectF(0, 0, width, height));
          painter.end();
          const QString where = QStringLiteral("%1 heads, %2x%3 grid, %4x%5 pt")
                                    .arg(heads)
                                    .arg(grid.rows)
                                    .arg(grid.cols)
                                    .arg(width)
                                    .arg(height);
          int full = 0, names = 0, numbers = 0;
          bool hidden = false;  // no captions: the subtitle names the order
          for (const QString& text : device.texts()) {
            hidden = hidden || text.contains(QStringLiteral("reading"));
            // A head's or the mean's caption cut: "h…", "h1…", "m…", "…".
            static const QRegularExpression cut(QStringLiteral("^(h\\d*|m\\w*|\\d*)…$"));
            QVERIFY2(!cut.match(text).hasMatch(),
                     qPrintable(where + ": " + text + " in " +
                                device.texts().join(QStringLiteral(" | "))));
            for (int h = 0; h < heads; ++h) {
              full += text == QStringLiteral("h%1 · %2").arg(h).arg(100 + h);
              names += text == QStringLiteral("h%1").arg(h);
              numbers += text == QString::number(h);
            }
          }
          // One wording for every head ("0" may also be a colorbar tick: at most one more).
          QVERIFY2(full == heads || names == heads || (numbers >= heads && numbers <= heads + 1) ||
                       (hidden && full + names == 0 && numbers <= 1),
                   qPrintable(QStringLiteral("%1: %2 whole, %3 names, %4 numbers")
                                  .arg(where)
                                  .arg(full)
                                  .arg(names)
                                  .arg(numbers)));
        }
      }
    }
  }
}

void tst_LaptopLayout::everyDockTextsApart() {
  QFETCH(QSize, size);
  QFETCH(bool, transformerLayout);
  QVERIFY(openTransformer(size, transformerLayout));
  QStringList found;
  for (const QString& dock : dockNames()) {
    m_window->raiseDock(dock);
    if (AnalysisViews* views = AnalysisViews::of(*m_window)) views->waitUntilIdle();
    QTest::qWait(50);
    QCoreApplication::processEvents();
    QStringList texts = overlappingOrCutTexts(*m_window);
    texts << clippedTexts(*m_window);
    for (const QString& elided : elidedTexts(*m_window))
      texts << QStringLiteral("elided: ") + elided;
    for (const QString& text : texts)
      if (!found.contains(text)) found << dock + QStringLiteral(" raised: ") + text;
  }
  QVERIFY2(found.isEmpty(), qPrintable(found.join(QStringLiteral("\n"))));
}

// Defect 12: at 1366 x 768 the inspector's statistics and top 10 were below the fold of its
// scroll area, and the overlay colorbar's caption was elided ("… mean over heads · sc…").
void tst_LaptopLayout::inspectorAndColorbarFit() {
  QFETCH(QSize, size);
  QFETCH(bool, transformerLayout);
  QVERIFY(openTransformer(size, transformerLayout));
  Session* session = m_window->session();
  m_window->raiseDock(QStringLiteral("inspector"));
  session->setSelection({1, 1});
  session->setOverlay(OverlayKind::Attention);
  QTest::qWait(100);
  QCoreApplication::processEvents();
  auto* inspector = m_window->findChild<PatchInspector*>(QStringLiteral("patchInspector"));
  QVERIFY(inspector && inspector->isVisible());
  auto* scroll = qobject_cast<QScrollArea*>(inspector->parentWidget()->parentWidget());
  QVERIFY(scroll);
  const QRect viewport = scroll->viewport()->rect();
  for (const char* name : {"inspectorStats", "topChannels", "tokenPlot", "tokenTile"}) {
    auto* part = inspector->findChild<QWidget*>(QString::fromLatin1(name));
    QVERIFY2(part && part->isVisible(), name);
    QRect shown(part->mapTo(scroll->viewport(), QPoint(0, 0)), part->size());
    // 1024 x 700: the plot's top 60 px (axes and curve) on screen, the rest by scrolling.
    if (size.height() < 768 && QLatin1String(name) == QLatin1String("tokenPlot"))
      shown.setHeight(60);
    QVERIFY2(viewport.contains(shown),
             qPrintable(QStringLiteral("%1 at y %2..%3, the dock shows 0..%4")
                            .arg(QString::fromLatin1(name))
                            .arg(shown.top())
                            .arg(shown.bottom())
                            .arg(viewport.bottom())));
  }
  // All ten rows of the top 10 inside the table, no scroll bar.
  auto* top = inspector->findChild<QTableWidget*>(QStringLiteral("topChannels"));
  QCOMPARE(top->rowCount(), 10);
  QVERIFY2(top->viewport()->rect().contains(top->visualItemRect(top->item(9, 2))),
           qPrintable(QString::number(top->viewport()->height())));
  QVERIFY(!top->verticalScrollBar()->isVisible());

  // The colorbar's caption whole: on one line or two, never elided.
  auto* colorbar = m_window->findChild<ColorbarWidget*>(QStringLiteral("overlayColorbar"));
  QVERIFY(colorbar && colorbar->spec());
  const QString label = colorbar->spec()->label;
  QVERIFY2(label.contains(QStringLiteral("attention")), qPrintable(label));
  const QStringList lines = colorbar->labelLines();
  QVERIFY(!lines.isEmpty());
  for (const QString& line : lines) {
    QVERIFY2(!line.contains(QChar(0x2026)), qPrintable(lines.join(QStringLiteral(" | "))));
    QVERIFY(colorbar->fontMetrics().horizontalAdvance(line) <= colorbar->height() - 6);
  }
  QCOMPARE(lines.join(QLatin1Char(' ')).remove(QStringLiteral("· ")),
           QString(label).remove(QStringLiteral("· ")));
}

// tools/screenshots.sh: the Attention dock with DINO's masks and the DINOv2 PCA dock without
// its foreground step, at 1366 x 768 and 1920 x 1080 (PATCHLENS_MASK_SCREENSHOT: the folder;
// PATCHLENS_MASK_WEIGHTS: the random ViT-B/16 of make_random_vit.py).
void tst_LaptopLayout::maskScreenshots() {
  const QString folder = qEnvironmentVariable("PATCHLENS_MASK_SCREENSHOT");
  const QString weights = qEnvironmentVariable("PATCHLENS_MASK_WEIGHTS");
  if (folder.isEmpty() || weights.isEmpty())
    QSKIP("PATCHLENS_MASK_SCREENSHOT and PATCHLENS_MASK_WEIGHTS not set");
  for (const QSize size : {QSize(1366, 768), QSize(1920, 1080)}) {
    QVERIFY(openWindow(size));
    Session* session = m_window->session();
    m_window->openWeights(weights);
    QVERIFY(
        QTest::qWaitFor([&] { return session->hasTransformer() && !session->isBusy(); }, 120000));
    TransformerViews* views = TransformerViews::of(*m_window);
    views->applyTransformerLayout();
    session->setLayer(session->result()->trace->layerIndex("6"));
    QVERIFY(QTest::qWaitFor([&] { return !session->isBusy(); }, 60000));
    session->setPrefixQuery(0);
    session->setOverlay(OverlayKind::Attention);
    views->raiseDock(QStringLiteral("attention"));
    views->attentionPanel()->setMassThreshold(0.6f);
    views->raiseDock(QStringLiteral("foreground-pca"));
    QVERIFY(QTest::qWaitFor([&] { return views->attentionPanel()->figure() != nullptr; }, 30000));
    QTest::qWait(300);
    const QString w = QString::number(size.width());
    QVERIFY(m_window->grab().save(folder + "/transformer_attention_mask_" + w + ".png"));
    m_window.reset();
  }
}

QTEST_MAIN(tst_LaptopLayout)
#include "tst_laptop_layout.moc"
