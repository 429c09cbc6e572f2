#include <unistd.h>

#include <QClipboard>
#include <QContextMenuEvent>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QImageReader>
#include <QMenu>
#include <QMenuBar>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>
#include <memory>

#include "core/analysis/position_similarity.h"
#include "core/weights/npy_array.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/data_export.h"
#include "ui/figures/export_dialog.h"
#include "ui/figures/figure.h"
#include "ui/main_window.h"
#include "ui/panels/analysis_views.h"
#include "ui/panels/filter_pca_panel.h"
#include "ui/panels/position_similarity_panel.h"
#include "ui/panels/reconstruction_panel.h"
#include "ui/session/analysis_cache.h"
#include "ui/session/session.h"
#include "ui/views/figure_widget.h"
#include "ui/views/filter_gallery_view.h"
#include "ui/views/heatmap_view.h"

using namespace patchlens;

namespace {

const QString kChelsea = QStringLiteral(PATCHLENS_TEST_DATA "/chelsea.png");
// A timm ViT with P = 16 and a position embedding for a 4 x 4 grid
// (tests/data/weights/fixtures.tsv).
const QString kTimmWeights =
    QStringLiteral(PATCHLENS_TEST_DATA "/weights/timm_vit_f32.safetensors");
// Filter PCA of 768 x 768 in a Debug build takes a while.
constexpr int kSlowMs = 120000;

// PATCHLENS_VIEW_SHOTS=DIR saves what the dialogs and menus look like there (to look at).
void saveShot(QWidget* widget, const QString& name) {
  const QString dir = qEnvironmentVariable("PATCHLENS_VIEW_SHOTS");
  if (!dir.isEmpty()) widget->grab().save(QDir(dir).filePath(name + QStringLiteral(".png")));
}

QStringList filesIn(const QString& dir) {
  return QDir(dir).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot, QDir::Name);
}

}  // namespace

// The analysis docks, the figure widget's context menu and the export dialog, driven like a
// user on the offscreen platform.
class tst_AnalysisViews : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void init();
  void cleanup();
  void galleryClickSelectsChannel();
  void filterPcaShowsComponents();
  void positionSimilarityWithoutTable();
  void positionSimilarityWithTable();
  void reconstructionErrorFollowsK();
  void hiddenReconstructionWaitsUntilShown();
  void exportDialogWritesFormats_data();
  void exportDialogWritesFormats();
  void exportDialogRefusesBadDirectory();
  void exportActionOpensDialog();
  void contextMenuCopiesImage();
  void dataExportWritesNpyAndCsv();

 private:
  bool loadAndWait(const QString& path);
  bool waitIdle();
  AnalysisViews* views() const { return AnalysisViews::of(*m_window); }

  std::unique_ptr<MainWindow> m_window;
};

void tst_AnalysisViews::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_analysis_views"));
}

void tst_AnalysisViews::init() {
  QSettings().clear();
  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(1400, 900);
  m_window->show();
  QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
  QVERIFY(views());
}

void tst_AnalysisViews::cleanup() {
  m_window.reset();
}

bool tst_AnalysisViews::waitIdle() {
  Session* session = m_window->session();
  return QTest::qWaitFor([&] { return !session->isBusy(); }, 60000);
}

bool tst_AnalysisViews::loadAndWait(const QString& path) {
  m_window->openImage(path);
  Session* session = m_window->session();
  return QTest::qWaitFor(
      [&] {
        return !session->isBusy() && session->hasResult() && session->result()->imagePath == path;
      },
      60000);
}

void tst_AnalysisViews::galleryClickSelectsChannel() {
  QVERIFY(loadAndWait(kChelsea));
  QVERIFY(views()->raiseDock(QStringLiteral("filters")));
  FilterGalleryView* gallery = views()->filterGallery();
  QTRY_COMPARE_WITH_TIMEOUT(gallery->filterCount(), 768, 30000);
  QVERIFY(gallery->columns() > 1);
  QSignalSpy spy(m_window->session(), &Session::channelChanged);
  for (const int channel : {37, 0, 767}) {
    const QRect tile = gallery->tileRect(channel);
    QVERIFY(!tile.isEmpty());
    QTest::mouseClick(gallery, Qt::LeftButton, {}, tile.center());
    QCOMPARE(m_window->session()->channel(), channel);
    QCOMPARE(gallery->filterAt(tile.center()), std::optional(channel));
  }
  QCOMPARE(spy.count(), 3);
  // Between two tiles there is no filter: nothing changes.
  const QRect first = gallery->tileRect(0);
  QCOMPARE(gallery->filterAt(QPoint(first.right() + 2, first.center().y())), std::nullopt);
  // The current channel's tile is outlined in the highlight colour.
  m_window->session()->setChannel(5);
  const QImage shot = gallery->grab().toImage();
  const QRect tile = gallery->tileRect(5);
  const QPoint outline =
      (QPointF(tile.left() - 1, tile.center().y()) * shot.devicePixelRatio()).toPoint();
  QCOMPARE(QColor(shot.pixel(outline)), gallery->palette().color(QPalette::Highlight));
}

void tst_AnalysisViews::filterPcaShowsComponents() {
  QVERIFY(loadAndWait(kChelsea));
  QVERIFY(views()->raiseDock(QStringLiteral("filter-pca")));
  FilterPcaPanel* panel = views()->filterPcaPanel();
  QTRY_COMPARE_WITH_TIMEOUT(panel->componentCount(), 28, kSlowMs);
  QVERIFY(panel->figureWidget()->figure());
  QCOMPARE(panel->figureWidget()->kindName(), QStringLiteral("filter-pca"));
  QVERIFY(panel->figureWidget()->figure()->title().contains(QStringLiteral("28")));
  // Another image with the same weights reuses the analyses.
  const auto before = views()->cache()->analyses();
  QVERIFY(loadAndWait(QStringLiteral(PATCHLENS_TEST_DATA "/coffee.png")));
  QCOMPARE(views()->cache()->analyses(), before);
}

void tst_AnalysisViews::positionSimilarityWithoutTable() {
  QVERIFY(loadAndWait(kChelsea));  // xavier: no position embedding
  PositionSimilarityPanel* panel = views()->positionPanel();
  QTRY_VERIFY(panel->messageText().contains(QStringLiteral("no position embedding")));
  QVERIFY(!panel->mapView()->isVisibleTo(panel));
  QCOMPARE(panel->shownPosition(), std::nullopt);
}

void tst_AnalysisViews::positionSimilarityWithTable() {
  // The fixture's table is for a 4 x 4 grid of 16-pixel patches: a 64 x 64 input fits it.
  PipelineConfig config = m_window->session()->config();
  config.preprocess.height = 64;
  config.preprocess.width = 64;
  m_window->session()->setConfig(config);
  QVERIFY(loadAndWait(kChelsea));
  m_window->openWeights(kTimmWeights);
  Session* session = m_window->session();
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy() && session->weightsFromFile(); }, 60000));
  QVERIFY2(session->lastError().isEmpty(), qPrintable(session->lastError()));
  QCOMPARE(session->result()->embedding.grid.rows, 4);
  QVERIFY(views()->raiseDock(QStringLiteral("posembed")));
  PositionSimilarityPanel* panel = views()->positionPanel();
  QTRY_VERIFY(panel->mapView()->isVisibleTo(panel));
  QVERIFY2(!panel->messageText().contains(QStringLiteral("no position embedding")),
           qPrintable(panel->messageText()));

  session->setSelection({1, 2});
  QCOMPARE(panel->shownPosition(), std::optional(PatchPos{1, 2}));
  const QImage map = panel->mapView()->image();
  QCOMPARE(map.size(), QSize(4, 4));
  // The map is the core's row for that position: itself has similarity 1 (the top colour).
  const PositionSimilarity sim = positionSimilarity(*session->result()->weights);
  QCOMPARE(sim.map(1 * 4 + 2)(1, 2), 1.0f);
  QCOMPARE(map.pixelColor(2, 1).rgb(),
           colormapColor(ColormapId::RdBu, 1.0, ValueRange{-1.0f, 1.0f}).rgb());
  // A click on a cell moves the selection.
  HeatmapView* view = panel->mapView();
  const QRectF cells = view->cellsRect(QRectF(view->rect()));
  const QPointF cell30(cells.left() + cells.width() * 0.5 / 4,
                       cells.top() + cells.height() * 3.5 / 4);
  QTest::mouseClick(view, Qt::LeftButton, {}, cell30.toPoint());
  QCOMPARE(session->selection(), std::optional(PatchPos{3, 0}));
  QCOMPARE(panel->shownPosition(), std::optional(PatchPos{3, 0}));
  saveShot(panel, QStringLiteral("position_similarity"));
}

void tst_AnalysisViews::reconstructionErrorFollowsK() {
  PipelineConfig config = m_window->session()->config();
  config.weights.source = "dct";  // D = 3 P^2: invertible
  m_window->session()->setConfig(config);
  QVERIFY(loadAndWait(kChelsea));
  QVERIFY(views()->raiseDock(QStringLiteral("reconstruction")));
  ReconstructionPanel* panel = views()->reconstructionPanel();
  QCOMPARE(panel->maxComponents(), 196);
  panel->setComponents(0);
  QTRY_VERIFY_WITH_TIMEOUT(panel->relativeError().has_value(), kSlowMs);
  const double full = *panel->relativeError();
  QVERIFY2(full < 1e-5, qPrintable(QString::number(full)));
  QVERIFY(panel->errorText().contains(QStringLiteral("relative error")));
  QVERIFY(panel->figureWidget()->figure());

  panel->setComponents(1);
  QTRY_VERIFY_WITH_TIMEOUT(panel->relativeError().has_value(), kSlowMs);
  const double one = *panel->relativeError();
  QVERIFY2(one > 1e-2, qPrintable(QString::number(one)));
  QCOMPARE(panel->figureWidget()->kindName(), QStringLiteral("reconstruction:1"));
  saveShot(panel, QStringLiteral("reconstruction_k1"));

  panel->setComponents(50);
  QTRY_VERIFY_WITH_TIMEOUT(panel->relativeError().has_value(), kSlowMs);
  QVERIFY(*panel->relativeError() < one);
}

// A tab behind the matrix computes nothing on an open (it would take a core from the
// encoder's forward); raised, it computes the new image's reconstruction.
void tst_AnalysisViews::hiddenReconstructionWaitsUntilShown() {
  PipelineConfig config = m_window->session()->config();
  config.weights.source = "dct";
  m_window->session()->setConfig(config);
  QVERIFY(loadAndWait(kChelsea));
  auto* matrix = m_window->findChild<QDockWidget*>(QStringLiteral("matrixDock"));
  QVERIFY(matrix);
  matrix->raise();  // the reconstruction's tab goes behind it
  QCoreApplication::processEvents();
  ReconstructionPanel* panel = views()->reconstructionPanel();
  QVERIFY(loadAndWait(QStringLiteral(PATCHLENS_TEST_DATA "/coffee.png")));
  QVERIFY(views()->waitUntilIdle());
  QVERIFY(!panel->isBusy());
  QVERIFY(panel->isWaitingToBeShown());
  QVERIFY(!panel->relativeError().has_value());  // none for the image on screen

  QVERIFY(views()->raiseDock(QStringLiteral("reconstruction")));
  QTRY_VERIFY_WITH_TIMEOUT(panel->relativeError().has_value(), kSlowMs);
  QVERIFY(!panel->isWaitingToBeShown());
  QVERIFY2(*panel->relativeError() < 1e-5, qPrintable(QString::number(*panel->relativeError())));
}

void tst_AnalysisViews::exportDialogWritesFormats_data() {
  QTest::addColumn<int>("format");
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QString>("file");
  QTest::newRow("png channel") << static_cast<int>(FigureFormat::Png) << QStringLiteral("channel:5")
                               << QStringLiteral("fig.png");
  QTest::newRow("svg filters") << static_cast<int>(FigureFormat::Svg) << QStringLiteral("filters")
                               << QStringLiteral("fig.svg");
  QTest::newRow("pdf token") << static_cast<int>(FigureFormat::Pdf) << QStringLiteral("token:3,4")
                             << QStringLiteral("fig.pdf");
  QTest::newRow("png, no suffix typed") << static_cast<int>(FigureFormat::Png)
                                        << QStringLiteral("histogram") << QStringLiteral("plot");
}

void tst_AnalysisViews::exportDialogWritesFormats() {
  QFETCH(int, format);
  QFETCH(QString, kind);
  QFETCH(QString, file);
  QVERIFY(loadAndWait(kChelsea));
  QTemporaryDir dir;
  QVERIFY(dir.isValid());
  ExportDialog dialog(m_window->session(), m_window.get());
  dialog.show();
  dialog.setKind(kind);
  QTRY_VERIFY_WITH_TIMEOUT(dialog.isFigureReady(), 30000);
  QVERIFY(!dialog.preview().isNull());
  dialog.setFormat(static_cast<FigureFormat>(format));
  saveShot(&dialog, QStringLiteral("export_dialog_") + QFileInfo(file).completeBaseName() +
                        QString::number(format));
  dialog.setFigureSize(QSizeF(400, 300));
  dialog.setScale(2.5);
  dialog.setPath(dir.filePath(file));
  QVERIFY2(dialog.save(), qPrintable(dialog.message()));
  const QString written = dialog.path();
  QVERIFY(QFile::exists(written));
  // Atomic: the target only, no temporary file left beside it.
  QCOMPARE(filesIn(dir.path()), QStringList{QFileInfo(written).fileName()});
  QFile f(written);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QByteArray head = f.read(8);
  switch (static_cast<FigureFormat>(format)) {
    case FigureFormat::Png: {
      QVERIFY(written.endsWith(QLatin1String(".png")));
      QImageReader reader(written);
      QCOMPARE(reader.format(), QByteArray("png"));
      QCOMPARE(reader.read().size(), QSize(1000, 750));
      break;
    }
    case FigureFormat::Svg:
      QVERIFY(f.readAll().contains("<svg"));
      break;
    case FigureFormat::Pdf:
      QVERIFY(head.startsWith("%PDF"));
      break;
  }
}

void tst_AnalysisViews::exportDialogRefusesBadDirectory() {
  QVERIFY(loadAndWait(kChelsea));
  QTemporaryDir dir;
  ExportDialog dialog(m_window->session(), m_window.get());
  dialog.setKind(QStringLiteral("channel:1"));
  QTRY_VERIFY(dialog.isFigureReady());
  dialog.setPath(dir.filePath(QStringLiteral("missing/sub/fig.png")));
  QVERIFY(!dialog.save());
  QVERIFY2(dialog.message().contains(QStringLiteral("does not exist")),
           qPrintable(dialog.message()));
  saveShot(&dialog, QStringLiteral("export_dialog_missing_dir"));
  QVERIFY(filesIn(dir.path()).isEmpty());
  QVERIFY(!QDir(dir.filePath(QStringLiteral("missing"))).exists());

  if (::geteuid() == 0) QSKIP("root writes into read-only directories");
  const QString readOnly = dir.filePath(QStringLiteral("ro"));
  QVERIFY(QDir().mkdir(readOnly));
  QVERIFY(QFile::setPermissions(readOnly, QFile::ReadOwner | QFile::ExeOwner));
  dialog.setPath(readOnly + QStringLiteral("/fig.png"));
  QVERIFY(!dialog.save());
  QVERIFY2(dialog.message().contains(QStringLiteral("not writable")), qPrintable(dialog.message()));
  QVERIFY(filesIn(readOnly).isEmpty());
  QFile::setPermissions(readOnly, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
}

void tst_AnalysisViews::exportActionOpensDialog() {
  QVERIFY(loadAndWait(kChelsea));
  m_window->session()->setSelection({2, 3});
  m_window->session()->setOverlay(OverlayKind::Similarity);
  QAction* act = views()->exportAction();
  QCOMPARE(act->shortcut(), QKeySequence(QStringLiteral("Ctrl+E")));
  QVERIFY(act->isEnabled());
  // File: … Export Figure…, Export Data ▸, separator, Quit.
  QMenu* fileMenu = m_window->menuBar()->actions().first()->menu();
  const QList<QAction*> entries = fileMenu->actions();
  QVERIFY(entries.contains(act));
  const qsizetype at = entries.indexOf(act);
  QVERIFY(entries.at(at + 1)->menu());
  // Embedding, token, channel map, filters, the transformer's tokens:L / attention:L, and
  // DINO's attention masks (attention-mask:L).
  QCOMPARE(entries.at(at + 1)->menu()->actions().size(), 7);
  QCOMPARE(entries.last()->shortcut(), QKeySequence(QKeySequence::Quit));
  act->trigger();
  ExportDialog* dialog = nullptr;
  QTRY_VERIFY((dialog = m_window->findChild<ExportDialog*>()) && dialog->isVisible());
  // The figure follows the view: similarity to the selected patch.
  QCOMPARE(dialog->kind(), QStringLiteral("similarity:2,3"));
  QTRY_VERIFY(dialog->isFigureReady());
  dialog->reject();
}

void tst_AnalysisViews::contextMenuCopiesImage() {
  PipelineConfig config = m_window->session()->config();
  config.weights.source = "dct";
  m_window->session()->setConfig(config);
  QVERIFY(loadAndWait(kChelsea));
  QVERIFY(views()->raiseDock(QStringLiteral("reconstruction")));
  FigureWidget* widget = views()->reconstructionPanel()->figureWidget();
  QTRY_VERIFY_WITH_TIMEOUT(widget->figure(), kSlowMs);
  QGuiApplication::clipboard()->clear();
  QVERIFY(QGuiApplication::clipboard()->image().isNull());

  // Right-click, then pick "Copy Image" from the menu that pops up.
  bool picked = false;
  QTimer::singleShot(200, this, [&] {
    auto* menu = qobject_cast<QMenu*>(QApplication::activePopupWidget());
    if (!menu) return;
    saveShot(menu, QStringLiteral("figure_context_menu"));
    for (QAction* act : menu->actions()) {
      if (act->text().contains(QStringLiteral("Copy"))) {
        menu->setActiveAction(act);
        act->trigger();
        picked = true;
      }
    }
    menu->close();
  });
  const QPoint pos = widget->rect().center();
  QContextMenuEvent event(QContextMenuEvent::Mouse, pos, widget->mapToGlobal(pos));
  QApplication::sendEvent(widget, &event);
  QVERIFY(picked);
  const QImage copied = QGuiApplication::clipboard()->image();
  QVERIFY(!copied.isNull());
  const QSizeF points = widget->figure()->preferredSize();
  QCOMPARE(copied.size(), (points * 2.0).toSize());
}

void tst_AnalysisViews::dataExportWritesNpyAndCsv() {
  QVERIFY(loadAndWait(kChelsea));
  QTemporaryDir dir;
  const Embedding& embedding = m_window->session()->result()->embedding;

  const QString npy = dir.filePath(QStringLiteral("embedding.npy"));
  QCOMPARE(views()->writeData(DataExport{DataExport::Type::Embedding, 0, 0}, npy), QString());
  const NpyArray array = readNpy(npy.toStdString());
  QCOMPARE(array.shape, (std::vector<std::int64_t>{196, 768}));
  QVERIFY(std::equal(array.data.begin(), array.data.end(), embedding.tokens.data()));

  const QString channel = dir.filePath(QStringLiteral("channel.npy"));
  QCOMPARE(views()->writeData(DataExport{DataExport::Type::Channel, 9, 0}, channel), QString());
  QCOMPARE(readNpy(channel.toStdString()).shape, (std::vector<std::int64_t>{14, 14}));

  const QString filters = dir.filePath(QStringLiteral("filters.npy"));
  QCOMPARE(views()->writeData(DataExport{DataExport::Type::Filters, 0, 0}, filters), QString());
  QCOMPARE(readNpy(filters.toStdString()).shape, (std::vector<std::int64_t>{768, 3, 16, 16}));

  const QString csv = dir.filePath(QStringLiteral("token.csv"));
  QCOMPARE(views()->writeData(DataExport{DataExport::Type::Token, 2, 3}, csv), QString());
  QFile file(csv);
  QVERIFY(file.open(QIODevice::ReadOnly | QIODevice::Text));
  QVERIFY(file.size() > 768);

  QCOMPARE(filesIn(dir.path()),
           (QStringList{QStringLiteral("channel.npy"), QStringLiteral("embedding.npy"),
                        QStringLiteral("filters.npy"), QStringLiteral("token.csv")}));
  const QString error = views()->writeData(DataExport{DataExport::Type::Embedding, 0, 0},
                                           dir.filePath(QStringLiteral("missing/embedding.npy")));
  QVERIFY(!error.isEmpty());
  QVERIFY2(error.contains(QStringLiteral("missing")), qPrintable(error));
  QCOMPARE(filesIn(dir.path()).size(), 4);
}

QTEST_MAIN(tst_AnalysisViews)
#include "tst_analysis_views.moc"
