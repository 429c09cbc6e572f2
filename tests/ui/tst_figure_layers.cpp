#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QProcess>
#include <QRegularExpression>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>
#include <memory>

#include "core/analysis/attention_mask.h"
#include "core/weights/npz_archive.h"
#include "tests/common/test_support.h"
#include "ui/base/color_scale.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/attention_heads_figure.h"
#include "ui/figures/attention_map_figure.h"
#include "ui/figures/export_dialog.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_factory.h"
#include "ui/figures/figure_painting.h"
#include "ui/figures/plot_kind.h"
#include "ui/main_window.h"
#include "ui/panels/attention_panel.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/session.h"
#include "ui/session/session_figure_data.h"
#include "ui/views/colorbar.h"
#include "ui/views/embedding_matrix_view.h"
#include "ui/views/figure_widget.h"
#include "ui/views/heatmap_view.h"
#include "ui/views/image_view.h"

using namespace patchlens;

// Issue 21: every figure names the layer it shows, with one numbering ("Block 2" is
// `--layer 2`), and the export dialog's command line draws the same figure through
// patchlens-cli: its SVG has the same <title> (and, for figures with no screen style, the
// same bytes). The fixture ViT (3 blocks, 3 heads) on chelsea.png at Block 2.
class tst_FigureLayers : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void init();
  void cleanup();
  void everyFigureNamesItsLayer_data();
  void everyFigureNamesItsLayer();
  void commandLineReproducesTheFigure_data();
  void commandLineReproducesTheFigure();
  void oneMapOneColour_data();
  void oneMapOneColour();
  void flatMapIsDrawnFlat();
  void massThresholdDockDrawsDinosMasks();
  void exportDialogHidesPngScaleForVectors();
  void embeddingMatrixNamesItsLayer();
  void hoverTextFollowsTheOverlay();
  void narrowCaptionsKeepTheHeadName();

 private:
  std::unique_ptr<MainWindow> m_window;
};

void tst_FigureLayers::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_figure_layers"));
}

void tst_FigureLayers::init() {
  QSettings().clear();
  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(1400, 900);
  m_window->show();
  Session* session = m_window->session();
  m_window->openWeights(
      QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors")));
  QVERIFY(QTest::qWaitFor([&] { return !session->isBusy(); }, 60000));
  const QString image = QString::fromStdString(test::dataPath("chelsea.png"));
  m_window->openImage(image);
  QVERIFY(QTest::qWaitFor(
      [&] {
        return !session->isBusy() && session->hasTransformer() &&
               session->result()->imagePath == image;
      },
      60000));
  session->setSelection({1, 2});
}

void tst_FigureLayers::cleanup() {
  m_window.reset();
}

void tst_FigureLayers::everyFigureNamesItsLayer_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QString>("layer");     // --layer
  QTest::addColumn<QString>("expected");  // in the title
  for (const auto& [layer, name] : {std::pair{"2", "Block 2"}, std::pair{"0", "Input to block 1"},
                                    std::pair{"final", "Final norm"}}) {
    for (const char* kind : {"channel:5", "token:1,2", "token-line:1,2", "channels:0-3",
                             "similarity:1,2", "histogram", "pca"}) {
      QTest::addRow("%s --layer %s", kind, layer) << kind << layer << name;
    }
  }
  // The attention figures name their block: attention:L is the block of --layer L.
  QTest::addRow("attention:2") << "attention:2"
                               << "2"
                               << "block 2";
  QTest::addRow("attention:2,1") << "attention:2,1"
                                 << "2"
                                 << "block 2";
  QTest::addRow("attention-heads:3") << "attention-heads:3"
                                     << "3"
                                     << "block 3";
  QTest::addRow("attention-mask:2") << "attention-mask:2"
                                    << "2"
                                    << "block 2";
  QTest::addRow("attention-mask:3:0.3") << "attention-mask:3:0.3"
                                        << "final"
                                        << "block 3";
  QTest::addRow("rollout") << "rollout"
                           << "2"
                           << "through 3 blocks";
}

void tst_FigureLayers::everyFigureNamesItsLayer() {
  QFETCH(QString, kind);
  QFETCH(QString, layer);
  QFETCH(QString, expected);
  Session* session = m_window->session();
  session->setLayer(session->result()->trace->layerIndex(layer.toStdString()));
  if (!kind.startsWith(QStringLiteral("attention")) && kind != QLatin1String("rollout"))
    QCOMPARE(session->layerName(session->result()->layerIndex), expected);
  const PlotKind plot = PlotKind::parse(kind.toStdString());
  const std::unique_ptr<Figure> figure =
      makeFigure(plot, figureDataFor(*session->result()), figureOptionsFor(*session, plot));
  QVERIFY2(figure->title().contains(expected), qPrintable(figure->title()));
}

void tst_FigureLayers::commandLineReproducesTheFigure_data() {
  QTest::addColumn<QString>("kind");
  QTest::addColumn<QString>("layer");   // on screen, as --layer writes it
  QTest::addColumn<bool>("sameBytes");  // no screen style the CLI cannot say
  QTest::newRow("channel:5") << "channel:5"
                             << "2" << false;
  QTest::newRow("similarity:1,2") << "similarity:1,2"
                                  << "2" << false;
  QTest::newRow("token-line:1,2") << "token-line:1,2"
                                  << "2" << true;
  QTest::newRow("token-line:1,2 final") << "token-line:1,2"
                                        << "final" << true;
  QTest::newRow("pca") << "pca"
                       << "2" << true;
  QTest::newRow("pca final") << "pca"
                             << "final" << true;
  QTest::newRow("histogram 3") << "histogram"
                               << "3" << true;
  QTest::newRow("attention-heads:2") << "attention-heads:2"
                                     << "2" << true;
  QTest::newRow("attention-mask:2") << "attention-mask:2"
                                    << "2" << true;
  QTest::newRow("attention-mask:3:0.35") << "attention-mask:3:0.35"
                                         << "3" << true;
  QTest::newRow("pca --foreground 0.50") << "pca --foreground 0.50"
                                         << "2" << true;
  QTest::newRow("token-norms") << "token-norms"
                               << "2" << true;
  QTest::newRow("attention-distance final") << "attention-distance"
                                            << "final" << true;
}

void tst_FigureLayers::commandLineReproducesTheFigure() {
  QFETCH(QString, kind);
  QFETCH(QString, layer);
  QFETCH(bool, sameBytes);
  Session* session = m_window->session();
  session->setLayer(session->result()->trace->layerIndex(layer.toStdString()));
  QTemporaryDir dir;
  ExportDialog dialog(session, m_window.get());
  dialog.setFormat(FigureFormat::Svg);
  dialog.setKind(kind);
  QVERIFY(QTest::qWaitFor([&] { return dialog.isFigureReady(); }, 30000));
  const QString gui = dir.filePath(QStringLiteral("gui.svg"));
  dialog.setPath(gui);
  QVERIFY2(dialog.save(), qPrintable(dialog.message()));
  // The line the dialog shows, read back as a shell reads it.
  QStringList args = QProcess::splitCommand(dialog.commandLine());
  QVERIFY2(args.value(0) == QLatin1String("patchlens-cli"), qPrintable(dialog.commandLine()));
  args.removeFirst();
  QCOMPARE(args, dialog.commandArguments());
  QVERIFY2(args.contains(QStringLiteral("--plot")), qPrintable(args.join(' ')));
  if (!kind.startsWith(QLatin1String("attention-"))) {
    // The layer on screen is in the command as the user would type it.
    const qsizetype at = args.indexOf(QStringLiteral("--layer"));
    QVERIFY2(at >= 0 && args.value(at + 1) == layer, qPrintable(args.join(' ')));
  }
  QVERIFY(dialog.commandLine().startsWith(QStringLiteral("patchlens-cli export ")));
  const QString cli = dir.filePath(QStringLiteral("cli.svg"));
  QCOMPARE(args.value(args.size() - 2), QStringLiteral("-o"));
  args.last() = cli;
  QProcess process;
  process.start(QStringLiteral(PATCHLENS_BIN_DIR "/patchlens-cli"), args);
  QVERIFY(process.waitForFinished(120000));
  QVERIFY2(process.exitCode() == 0, qPrintable(QString::fromUtf8(process.readAllStandardError())));
  const auto read = [](const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
  };
  const QByteArray guiBytes = read(gui);
  const QByteArray cliBytes = read(cli);
  static const QRegularExpression title(QStringLiteral("<title>([^<]*)</title>"));
  const QString guiTitle = title.match(QString::fromUtf8(guiBytes)).captured(1);
  const QString cliTitle = title.match(QString::fromUtf8(cliBytes)).captured(1);
  QVERIFY2(!guiTitle.isEmpty(), guiBytes.left(400).constData());
  QCOMPARE(cliTitle, guiTitle);
  const QString layerName =
      QString::fromStdString(session->result()->trace->layerName(session->result()->layerIndex));
  if (!kind.startsWith(QLatin1String("attention-")) && kind != QLatin1String("token-norms"))
    QVERIFY2(guiTitle.contains(layerName), qPrintable(guiTitle + " / " + layerName));
  if (sameBytes) QVERIFY2(guiBytes == cliBytes, qPrintable(guiTitle));
}

void tst_FigureLayers::oneMapOneColour_data() {
  QTest::addColumn<int>("head");  // -1: the mean
  QTest::addColumn<QString>("scale");
  QTest::newRow("mean, default scale") << -1 << QString();
  QTest::newRow("head 1, default scale") << 1 << QString();
  QTest::newRow("head 2, percentile") << 2 << QStringLiteral("percentile");
  QTest::newRow("mean, symmetric") << -1 << QStringLiteral("symmetric");
}

// Issue 21: one attention map in the overlay, the attention dock and the export (GUI and,
// at the default scale, the CLI's options): the same colour for the same value, and the
// scale named on the colorbar.
void tst_FigureLayers::oneMapOneColour() {
  QFETCH(int, head);
  QFETCH(QString, scale);
  Session* session = m_window->session();
  if (!scale.isEmpty()) session->setScaleChoice(parseScaleMode(scale));
  session->setLayer(session->result()->trace->layerIndex("2"));
  session->setOverlay(OverlayKind::Attention);
  session->setHead(head);
  QVERIFY(QTest::qWaitFor([&] { return !session->overlayMap().empty(); }, 10000));
  const OverlayMap& overlay = session->overlayMap();
  TransformerViews* views = TransformerViews::of(*m_window);
  QVERIFY(views && views->attentionPanel()->figure());
  const auto dock = views->attentionPanel()->figure()->layout(QRectF(0, 0, 600, 500)).colorbar;
  const QString kind =
      head < 0 ? QStringLiteral("attention:2") : QStringLiteral("attention:2,%1").arg(head);
  const PlotKind plot = PlotKind::parse(kind.toStdString());
  const std::unique_ptr<Figure> exported =
      makeFigure(plot, figureDataFor(*session->result()), figureOptionsFor(*session, plot));
  const auto* map = dynamic_cast<const AttentionMapFigure*>(exported.get());
  QVERIFY(map);
  std::vector<std::pair<ColormapId, ValueRange>> scales{{dock.colormap, dock.range},
                                                        {map->colormap(), map->colorScale().range}};
  if (scale.isEmpty()) {
    // patchlens-cli export --plot attention:2 --query Q (its own defaults otherwise).
    FigureOptions cliOptions;
    cliOptions.query = figureOptionsFor(*session, plot).query;
    const std::unique_ptr<Figure> cli =
        makeFigure(plot, figureDataFor(*session->result()), cliOptions);
    const auto* cliMap = dynamic_cast<const AttentionMapFigure*>(cli.get());
    QVERIFY(cliMap);
    scales.emplace_back(cliMap->colormap(), cliMap->colorScale().range);
  }
  const GridSize grid = session->result()->embedding.grid;
  QCOMPARE(overlay.values.size(), Eigen::Index(grid.rows * grid.cols));
  for (int t = 0; t < overlay.values.size(); ++t) {
    const QColor shown = QColor(overlay.image.pixel(t % grid.cols, t / grid.cols)).toRgb();
    for (std::size_t view = 0; view < scales.size(); ++view) {
      const auto& [colormap, range] = scales[view];
      const QColor other = colormapColor(colormap, overlay.values(t), range).toRgb();
      QVERIFY2(shown.rgb() == other.rgb(),
               qPrintable(QStringLiteral("patch %1: overlay %2, view %3 of %4 (%5..%6)")
                              .arg(t)
                              .arg(shown.name(), other.name())
                              .arg(view)
                              .arg(range.lo)
                              .arg(range.hi)));
    }
  }
  // The mode is written where the colours are explained.
  const QString name = scaleModeName(session->scaleFor(OverlayKind::Attention));
  QVERIFY2(dock.label.contains(name), qPrintable(dock.label));
  QVERIFY2(overlay.label.contains(name), qPrintable(overlay.label));
  QVERIFY2(m_window->colorbar()->spec()->label.contains(name),
           qPrintable(m_window->colorbar()->spec()->label));
}

// A map whose spread is below 1e-3 of its magnitude (the class token's attention at block 1
// of a random ViT: 0.005074-0.005078) says so and takes one colour.
void tst_FigureLayers::flatMapIsDrawnFlat() {
  VectorF values(4);
  values << 0.005074f, 0.005078f, 0.005076f, 0.005075f;
  for (const ScaleMode mode :
       {ScaleMode::MinMax, ScaleMode::Symmetric, ScaleMode::Percentile, ScaleMode::Global}) {
    const ColorScale scale = ColorScale::of(mode, values, minMaxRange(values));
    QVERIFY(scale.uniform);
    QCOMPARE(scale.caption(), QStringLiteral("uniform (range 4e-06)"));
    const QImage image = valuesToQImage(values, 2, 2, ColormapId::Viridis, scale.range);
    for (int t = 1; t < 4; ++t) QCOMPARE(image.pixel(t % 2, t / 2), image.pixel(0, 0));
  }
  // A map with structure keeps its stretch.
  VectorF structured(4);
  structured << 0.001f, 0.002f, 0.003f, 0.004f;
  const ColorScale scale = ColorScale::of(ScaleMode::MinMax, structured, {});
  QVERIFY(!scale.uniform);
  QCOMPARE(scale.range.lo, 0.001f);
  QCOMPARE(scale.range.hi, 0.004f);
  QCOMPARE(scale.caption(), QStringLiteral("scale min/max"));
}

// Issue 21, DINO's view: the Attention dock's "Mass threshold" draws each head's mask (the
// patches holding the top T of its attention mass) over the image; the masks are the CLI's
// `--data attention-mask:L:T` arrays; the export dialog and the figure menu name the kind.
void tst_FigureLayers::massThresholdDockDrawsDinosMasks() {
  Session* session = m_window->session();
  session->setLayer(session->result()->trace->layerIndex("2"));
  TransformerViews* views = TransformerViews::of(*m_window);
  QVERIFY(views);
  AttentionPanel* panel = views->attentionPanel();
  session->setPrefixQuery(0);  // the class token, as DINO
  QVERIFY(QTest::qWaitFor([&] { return panel->figure() != nullptr; }, 10000));
  QVERIFY(panel->figure()->masks().size() == 0);  // off: the maps
  auto* box = panel->findChild<QCheckBox*>(QStringLiteral("massThresholdBox"));
  auto* spin = panel->findChild<QDoubleSpinBox*>(QStringLiteral("massThresholdSpin"));
  QVERIFY(box && spin);
  QVERIFY(!spin->isEnabled());
  box->setChecked(true);
  QVERIFY(spin->isEnabled());
  QCOMPARE(spin->value(), 0.6);
  QCOMPARE(session->attentionMass(), std::optional<float>(0.6f));
  spin->setValue(0.35);
  const auto figure = panel->figure();
  QVERIFY(figure);
  QCOMPARE(figure->massThreshold(), std::optional<float>(0.35f));
  QVERIFY2(figure->title().contains(QStringLiteral("Attention masks")),
           qPrintable(figure->title()));
  QCOMPARE(panel->figureWidget()->kindName(), QStringLiteral("attention-mask:2:0.35"));
  const GridSize grid = session->result()->embedding.grid;
  const RowMatrixF& masks = figure->masks();
  QCOMPARE(masks.rows(), figure->maps().rows() + 1);  // every head and the mean
  QCOMPARE(masks.cols(), Eigen::Index(grid.rows * grid.cols));
  // The same masks as the CLI writes for this image, layer and threshold.
  QTemporaryDir dir;
  const QString npz = dir.filePath(QStringLiteral("m.npz"));
  QProcess process;
  process.start(
      QStringLiteral(PATCHLENS_BIN_DIR "/patchlens-cli"),
      {QStringLiteral("export"), session->result()->imagePath, QStringLiteral("--weights"),
       QString::fromStdString(session->config().weights.source), QStringLiteral("--data"),
       QStringLiteral("attention-mask:2:0.35"), QStringLiteral("-o"), npz});
  QVERIFY(process.waitForFinished(120000));
  QVERIFY2(process.exitCode() == 0, qPrintable(QString::fromUtf8(process.readAllStandardError())));
  const NpzArchive archive(npz.toStdString());
  const NpyArray th = archive.read("th_attn");
  const int p = session->result()->patchSize();
  QCOMPARE(th.shape, (std::vector<std::int64_t>{masks.rows() - 1, grid.rows * p, grid.cols * p}));
  int kept = 0;
  for (Eigen::Index h = 0; h + 1 < masks.rows(); ++h) {
    for (int r = 0; r < grid.rows; ++r) {
      for (int c = 0; c < grid.cols; ++c) {
        const float cli = th.data[std::size_t((h * grid.rows * p + r * p + p / 2) * grid.cols * p +
                                              c * p + p / 2)];
        QCOMPARE(masks(h, r * grid.cols + c), cli);
        kept += cli > 0.5f;
      }
    }
  }
  QVERIFY(kept > 0 && kept < (masks.rows() - 1) * grid.rows * grid.cols);
  // The masked image: DINO's apply_mask (alpha 0.5, red) over the input.
  const QImage input = session->result()->input.convertToFormat(QImage::Format_RGB32);
  const QImage tile0 = figure->maskedImage(0);
  QCOMPARE(tile0.size(), QSize(grid.cols * p, grid.rows * p));
  for (int t = 0; t < grid.rows * grid.cols; ++t) {
    const int x = (t % grid.cols) * p + 1, y = (t / grid.cols) * p + 1;
    const QRgb in = input.pixel(x, y);
    const QRgb out = tile0.pixel(x, y);
    if (masks(0, t) > 0.5f) {
      QCOMPARE(qRed(out), int(qRed(in) * 0.5 + 127.5));
      QCOMPARE(qGreen(out), int(qGreen(in) * 0.5));
    } else {
      QCOMPARE(out, in);
    }
  }
  // The export dialog lists the kind with the dock's threshold.
  ExportDialog dialog(session, m_window.get());
  auto* kinds = dialog.findChild<QComboBox*>(QStringLiteral("kindBox"));
  QVERIFY(kinds->findData(QStringLiteral("attention-mask:2:0.35")) >= 0);
  box->setChecked(false);
  QVERIFY(panel->figure()->masks().size() == 0);
  QCOMPARE(session->attentionMass(), std::nullopt);
}

// A PDF or SVG has no pixels: the dialog hides the PNG scale and its pixel text (defect 19).
void tst_FigureLayers::exportDialogHidesPngScaleForVectors() {
  ExportDialog dialog(m_window->session(), m_window.get());
  dialog.show();
  QVERIFY(QTest::qWaitFor([&] { return dialog.isFigureReady(); }, 30000));
  auto* info = dialog.findChild<QLabel*>(QStringLiteral("pixelInfo"));
  QVERIFY(info);
  QVERIFY(info->isVisible());
  QVERIFY(info->text().contains(QStringLiteral("PNG")));
  for (const FigureFormat f : {FigureFormat::Pdf, FigureFormat::Svg}) {
    dialog.setFormat(f);
    QVERIFY(!info->isVisible());
    for (const QLabel* label : dialog.findChildren<QLabel*>())
      QVERIFY2(!label->isVisible() || !label->text().contains(QStringLiteral("PNG")),
               qPrintable(label->text()));
  }
  dialog.setFormat(FigureFormat::Png);
  QVERIFY(info->isVisible());
}

// The embedding matrix names the layer it shows (defect 5).
void tst_FigureLayers::embeddingMatrixNamesItsLayer() {
  Session* session = m_window->session();
  auto* matrix = m_window->findChild<EmbeddingMatrixView*>();
  QVERIFY(matrix);
  auto* heatmap = matrix->findChild<HeatmapView*>();
  QVERIFY(heatmap);
  for (const char* layer : {"2", "final", "0"}) {
    session->setLayer(session->result()->trace->layerIndex(layer));
    const QString name = session->layerName(session->result()->layerIndex);
    QVERIFY2(heatmap->title().contains(name), qPrintable(heatmap->title() + " / " + name));
  }
}

// The image's hover text names the overlay drawn now, also after a key switched it under a
// still mouse (defect 17: it said "attention from" over the rollout).
void tst_FigureLayers::hoverTextFollowsTheOverlay() {
  Session* session = m_window->session();
  session->setLayer(session->result()->trace->layerIndex("2"));
  session->setOverlay(OverlayKind::Attention);
  ImageView* view = m_window->imageView();
  QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
  QVERIFY(QTest::qWaitFor([&] { return !session->overlayMap().empty(); }, 10000));
  const QPoint centre = view->rect().center();
  QMouseEvent move(QEvent::MouseMove, QPointF(centre), view->mapToGlobal(QPointF(centre)),
                   Qt::NoButton, Qt::NoButton, Qt::NoModifier);
  QCoreApplication::sendEvent(view, &move);
  QVERIFY(view->hovered().has_value());
  QVERIFY2(view->toolTip().contains(QStringLiteral("attention from")), qPrintable(view->toolTip()));
  session->setOverlay(OverlayKind::Rollout);
  QVERIFY2(view->toolTip().contains(QStringLiteral("rollout")), qPrintable(view->toolTip()));
  QVERIFY2(!view->toolTip().contains(QStringLiteral("attention from")),
           qPrintable(view->toolTip()));
}

// Issue 21, defect 12: head tiles in a narrow Attention dock (the Transformer layout at
// 1366 x 768) were captioned "h1…" for h10..h11, naming another head. A caption too wide keeps
// its part before " · " whole, and is elided only when even that does not fit.
void tst_FigureLayers::narrowCaptionsKeepTheHeadName() {
  const QFontMetricsF fm(QFont(QStringLiteral("DejaVu Sans"), 8));
  const QString text = QStringLiteral("h10 · 117");
  QCOMPARE(fittedCaption(text, fm, fm.horizontalAdvance(text) + 1), text);
  const qreal headOnly = fm.horizontalAdvance(QStringLiteral("h10"));
  QVERIFY(headOnly < fm.horizontalAdvance(text));
  QCOMPARE(fittedCaption(text, fm, headOnly + 1), QStringLiteral("h10"));
  const QString elided = fittedCaption(text, fm, headOnly - 1);
  QVERIFY2(elided.endsWith(QChar(0x2026)) && elided != QStringLiteral("h10"), qPrintable(elided));
  // Without " · " a caption is elided as before.
  const QString plain = fittedCaption(QStringLiteral("channel 12"), fm,
                                      fm.horizontalAdvance(QStringLiteral("channel")));
  QVERIFY2(plain.endsWith(QChar(0x2026)), qPrintable(plain));
}

QTEST_MAIN(tst_FigureLayers)
#include "tst_figure_layers.moc"
