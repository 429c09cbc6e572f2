#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QContextMenuEvent>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImageReader>
#include <QMenu>
#include <QProcess>
#include <QSettings>
#include <QSlider>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QXmlStreamReader>
#include <QtTest>
#include <memory>

#include "core/model/vision_transformer.h"
#include "core/weights/npy_array.h"
#include "tests/common/patch_only_weights.h"
#include "tests/common/test_support.h"
#include "ui/figures/data_export.h"
#include "ui/figures/export_dialog.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_exporter.h"
#include "ui/figures/figure_factory.h"
#include "ui/figures/plot_kind.h"
#include "ui/main_window.h"
#include "ui/panels/analysis_views.h"
#include "ui/panels/foreground_pca_panel.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/session.h"
#include "ui/session/session_figure_data.h"
#include "ui/views/figure_menu.h"
#include "ui/views/image_view.h"

using namespace patchlens;

namespace {

// Share of pixels that are not (near) white: a blank figure has almost none.
double inkFraction(const QImage& image) {
  const QImage rgb = image.convertToFormat(QImage::Format_RGB32);
  qint64 ink = 0;
  for (int y = 0; y < rgb.height(); ++y) {
    for (int x = 0; x < rgb.width(); ++x) {
      const QRgb p = rgb.pixel(x, y);
      if (qRed(p) < 240 || qGreen(p) < 240 || qBlue(p) < 240) ++ink;
    }
  }
  return rgb.isNull() ? 0.0 : double(ink) / (double(rgb.width()) * rgb.height());
}

}  // namespace

// File > Export… and File > Export Data with a whole ViT (issue 12): the dialog lists every
// transformer figure with the settings on screen (block, query, head, foreground threshold),
// writes valid, non-blank PNG / SVG / PDF drawn exactly as `patchlens-cli export` draws them
// (the CLI's makeFigure with the CLI's options, compared pixel by pixel), the tokens:L /
// attention:L data equal the core's own forward, and a patch-only checkpoint leaves the
// entries disabled with the reason. Fixture: tests/data/transformer/timm_vit_f32 (3 blocks,
// 3 heads, cls).
class tst_ExportDialogTransformer : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase();
  void init();
  void cleanup();
  void exportsEveryTransformerKind_data();
  void exportsEveryTransformerKind();
  void dataExportEqualsTheCore_data();
  void dataExportEqualsTheCore();
  void patchOnlyCheckpointDisablesTheEntries();
  void dataExportEqualsTheCliLine_data();
  void dataExportEqualsTheCliLine();
  void imageMenuExportsTheOverlayFigure_data();
  void imageMenuExportsTheOverlayFigure();

 private:
  bool openModel(const QString& weights);
  TransformerViews* views() const { return TransformerViews::of(*m_window); }

  std::unique_ptr<MainWindow> m_window;
  QTemporaryDir m_dir;
};

void tst_ExportDialogTransformer::initTestCase() {
  QStandardPaths::setTestModeEnabled(true);
  QCoreApplication::setOrganizationName(QStringLiteral("PatchLensTest"));
  QCoreApplication::setApplicationName(QStringLiteral("tst_export_dialog_transformer"));
  QVERIFY(m_dir.isValid());
}

void tst_ExportDialogTransformer::init() {
  QSettings().clear();
  m_window = std::make_unique<MainWindow>(nullptr, MainWindow::SettingsMode::Ephemeral);
  m_window->resize(1400, 900);
  m_window->show();
  QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void tst_ExportDialogTransformer::cleanup() {
  m_window.reset();
}

bool tst_ExportDialogTransformer::openModel(const QString& weights) {
  Session* session = m_window->session();
  m_window->openWeights(weights);
  if (!QTest::qWaitFor([&] { return !session->isBusy(); }, 60000)) return false;
  const QString image = QString::fromStdString(test::dataPath("chelsea.png"));
  m_window->openImage(image);
  return QTest::qWaitFor(
      [&] {
        return !session->isBusy() && session->hasResult() && session->result()->hasPca() &&
               session->result()->imagePath == image;
      },
      60000);
}

void tst_ExportDialogTransformer::exportsEveryTransformerKind_data() {
  QTest::addColumn<QString>("kind");       // the dialog's entry
  QTest::addColumn<int>("head");           // selected on screen (-1: the mean)
  QTest::addColumn<QString>("cliKind");    // what `patchlens-cli export --plot` gets
  QTest::addColumn<QString>("cliQuery");   // its --query ("" : none)
  QTest::addColumn<double>("foreground");  // its --foreground (-1: none)
  struct Row {
    const char* kind;
    int head;
    const char* cliKind;
    const char* cliQuery;
    double foreground;
  };
  // On screen: block 2 (layer 3), patch (4, 5) selected, so the query is that patch.
  const Row rows[] = {
      {"attention:2", -1, "attention:2", "4,5", -1},
      {"attention:2,1", 1, "attention:2,1", "4,5", -1},
      {"attention-heads:2", 2, "attention-heads:2", "4,5", -1},
      {"rollout", -1, "rollout", "cls", -1},
      {"attention-distance", 1, "attention-distance", "", -1},
      {"token-norms", -1, "token-norms", "", -1},
      {"pca --foreground 0.30", -1, "pca", "", 0.30},
  };
  const std::pair<FigureFormat, const char*> formats[] = {
      {FigureFormat::Png, "png"}, {FigureFormat::Svg, "svg"}, {FigureFormat::Pdf, "pdf"}};
  for (const Row& row : rows) {
    for (const auto& [format, suffix] : formats) {
      QTest::addRow("%s %s", row.kind, suffix)
          << QString::fromLatin1(row.kind) << row.head << QString::fromLatin1(row.cliKind)
          << QString::fromLatin1(row.cliQuery) << row.foreground;
      Q_UNUSED(format);
    }
  }
}

void tst_ExportDialogTransformer::exportsEveryTransformerKind() {
  QFETCH(QString, kind);
  QFETCH(int, head);
  QFETCH(QString, cliKind);
  QFETCH(QString, cliQuery);
  QFETCH(double, foreground);
  const QString suffix = QString::fromLatin1(QTest::currentDataTag()).section(QLatin1Char(' '), -1);
  const FigureFormat format = *FigureExporter::formatForPath(QStringLiteral("x.") + suffix);
  QVERIFY(openModel(
      QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors"))));
  Session* session = m_window->session();
  session->setLayer(3);
  QCOMPARE(session->currentBlock(), 2);
  session->setSelection({4, 5});
  session->setHead(head);
  if (foreground >= 0) {
    // The DINOv2 PCA dock's settings are what the dialog offers.
    ForegroundPcaPanel* pca = views()->pcaPanel();
    pca->thresholdSlider()->setValue(qRound(foreground * 100));
    pca->foregroundBox()->setChecked(true);
  }

  ExportDialog dialog(session, m_window.get());
  dialog.show();
  // Listed (not just accepted by setKind) and enabled.
  auto* box = dialog.findChild<QComboBox*>(QStringLiteral("kindBox"));
  QVERIFY(box);
  const int index = box->findData(kind);
  QVERIFY2(index >= 0, qPrintable(kind));
  auto* model = qobject_cast<QStandardItemModel*>(box->model());
  QVERIFY(model && model->item(index)->isEnabled());
  dialog.setKind(kind);
  QCOMPARE(box->currentIndex(), index);
  QTRY_VERIFY_WITH_TIMEOUT(dialog.isFigureReady(), 30000);
  QVERIFY(!dialog.preview().isNull());
  // The proposed file name has no spaces, colons or commas.
  QVERIFY2(
      !QFileInfo(dialog.path()).fileName().contains(QRegularExpression(QStringLiteral("[ :,]"))),
      qPrintable(dialog.path()));
  // PATCHLENS_VIEW_SHOTS=DIR keeps a picture of the dialog for a person to look at.
  if (const QString shots = qEnvironmentVariable("PATCHLENS_VIEW_SHOTS"); !shots.isEmpty()) {
    QString name = QString::fromLatin1(QTest::currentDataTag());
    name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9]+")), QStringLiteral("_"));
    dialog.grab().save(QDir(shots).filePath(QStringLiteral("export_dialog_") + name + ".png"));
  }

  // The same paint path as the CLI: makeFigure with the options `export` builds from
  // --query / --foreground, rendered the same way, gives the same pixels.
  FigureOptions cli = figureOptionsFor(*session, PlotKind::parse(cliKind.toStdString()));
  cli.query.reset();
  if (!cliQuery.isEmpty()) cli.query = TokenQuery::parse(cliQuery.toStdString());
  if (foreground >= 0) cli.foreground = ForegroundPcaOptions{float(foreground), false};
  const auto expected =
      makeFigure(PlotKind::parse(cliKind.toStdString()), figureDataFor(*session->result()), cli);
  const QSizeF size = expected->preferredSize();
  QCOMPARE(dialog.figure()->title(), expected->title());
  QCOMPARE(FigureExporter::renderToImage(*dialog.figure(), size, 1.0),
           FigureExporter::renderToImage(*expected, size, 1.0));

  dialog.setFormat(format);
  dialog.setScale(2.0);
  dialog.setPath(m_dir.filePath(
      QStringLiteral("fig_%1.%2")
          .arg(QString(kind).replace(QRegularExpression("[^a-z0-9]"), QStringLiteral("_")),
               suffix)));
  QVERIFY2(dialog.save(), qPrintable(dialog.message()));
  QFile file(dialog.path());
  QVERIFY(file.open(QIODevice::ReadOnly));
  const QByteArray bytes = file.readAll();
  switch (format) {
    case FigureFormat::Png: {
      QImageReader reader(dialog.path());
      QCOMPARE(reader.format(), QByteArray("png"));
      const QImage image = reader.read();
      QCOMPARE(image.size(), (dialog.figureSize() * 2.0).toSize());
      QVERIFY2(inkFraction(image) > 0.05, qPrintable(QString::number(inkFraction(image))));
      break;
    }
    case FigureFormat::Svg: {
      QXmlStreamReader xml(bytes);
      int texts = 0;
      int shapes = 0;
      while (!xml.atEnd()) {
        if (xml.readNext() != QXmlStreamReader::StartElement) continue;
        if (xml.name() == QLatin1String("text")) ++texts;
        for (const char* shape : {"path", "image", "rect", "line", "polyline", "polygon"})
          if (xml.name() == QLatin1String(shape)) ++shapes;
      }
      QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
      QVERIFY2(texts >= 3, qPrintable(QString::number(texts)));
      QVERIFY(shapes >= 3);
      break;
    }
    case FigureFormat::Pdf:
      QVERIFY(bytes.startsWith("%PDF"));
      QVERIFY(bytes.trimmed().endsWith("%%EOF"));
      QVERIFY(bytes.size() > 2000);
      break;
  }
}

void tst_ExportDialogTransformer::dataExportEqualsTheCore_data() {
  QTest::addColumn<int>("layer");  // the layer on screen
  QTest::addColumn<int>("type");   // DataExport::Type
  QTest::addColumn<QString>("name");
  QTest::addColumn<QString>("file");
  const int tokens = static_cast<int>(DataExport::Type::Tokens);
  const int attention = static_cast<int>(DataExport::Type::Attention);
  QTest::newRow("tokens, patch embedding") << 0 << tokens << "tokens:patch"
                                           << "t.npy";
  QTest::newRow("tokens, input to block 1") << 1 << tokens << "tokens:0"
                                            << "t.npy";
  QTest::newRow("tokens, block 2, csv") << 3 << tokens << "tokens:2"
                                        << "t.csv";
  QTest::newRow("tokens, final norm") << 5 << tokens << "tokens:final"
                                      << "t.npy";
  QTest::newRow("attention, block 1") << 2 << attention << "attention:1"
                                      << "a.npy";
  QTest::newRow("attention, block 3") << 4 << attention << "attention:3"
                                      << "a.npy";
  QTest::newRow("attention, final norm shows block 3, csv") << 5 << attention << "attention:3"
                                                            << "a.csv";
}

void tst_ExportDialogTransformer::dataExportEqualsTheCore() {
  QFETCH(int, layer);
  QFETCH(int, type);
  QFETCH(QString, name);
  QFETCH(QString, file);
  const std::string weights = test::dataPath("transformer/timm_vit_f32/model.safetensors");
  QVERIFY(openModel(QString::fromStdString(weights)));
  Session* session = m_window->session();
  session->setLayer(layer);
  AnalysisViews* analysis = AnalysisViews::of(*m_window);
  QVERIFY(analysis);
  QCOMPARE(analysis->currentDataName(type), name);
  const QString path = m_dir.filePath(QString::number(layer) + file);
  const QString error = analysis->writeData(DataExport::parse(name.toStdString()), path);
  QVERIFY2(error.isEmpty(), qPrintable(error));

  // The core's own forward of the model input on screen.
  const auto model = VisionTransformer::load(weights);
  QVERIFY(model.has_value());
  std::vector<std::vector<RowMatrixF>> attention;
  const TransformerOutput out = model->forward(
      session->result()->tensor,
      [&](int, const std::vector<RowMatrixF>& heads) { attention.push_back(heads); });
  RowMatrixF expected;
  if (type == static_cast<int>(DataExport::Type::Tokens)) {
    expected = layer == 0   ? out.patchEmbedding
               : layer == 5 ? out.final
                            : out.tokens[std::size_t(layer - 1)];
  } else {
    const auto& heads = attention[std::size_t(session->currentBlock() - 1)];
    const Eigen::Index t = heads.front().rows();
    expected.resize(Eigen::Index(heads.size()) * t, t);
    for (std::size_t h = 0; h < heads.size(); ++h)
      expected.middleRows(Eigen::Index(h) * t, t) = heads[h];
  }
  RowMatrixF got;
  if (file.endsWith(QLatin1String(".npy"))) {
    const NpyArray a = readNpy(path.toStdString());
    std::int64_t count = 1;
    for (const std::int64_t d : a.shape) count *= d;
    QCOMPARE(count, std::int64_t(expected.size()));
    QCOMPARE(a.shape.back(), std::int64_t(expected.cols()));
    got = Eigen::Map<const RowMatrixF>(a.data.data(), expected.rows(), expected.cols());
  } else {
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
    QList<QByteArray> lines = f.readAll().trimmed().split('\n');
    // The attention CSV names its columns (head, query, key0, ...) and starts each line with
    // the head and the query (issue 21).
    const bool attentionCsv = type == static_cast<int>(DataExport::Type::Attention);
    qsizetype skip = 0;
    if (attentionCsv) {
      QVERIFY2(lines.front().startsWith("head,query,key0,key1,"),
               lines.front().left(80).constData());
      lines.removeFirst();
      skip = 2;
    }
    QCOMPARE(lines.size(), qsizetype(expected.rows()));
    got.resize(expected.rows(), expected.cols());
    for (Eigen::Index r = 0; r < expected.rows(); ++r) {
      const QList<QByteArray> cells = lines[r].split(',');
      QCOMPARE(cells.size(), qsizetype(expected.cols()) + skip);
      if (attentionCsv) {
        QCOMPARE(cells[0].toLongLong(), qlonglong(r / expected.cols()));
        QCOMPARE(cells[1].toLongLong(), qlonglong(r % expected.cols()));
      }
      for (Eigen::Index c = 0; c < expected.cols(); ++c) got(r, c) = cells[c + skip].toFloat();
    }
  }
  const float scale = std::max(1.0f, expected.cwiseAbs().maxCoeff());
  QVERIFY2((got - expected).cwiseAbs().maxCoeff() <= 1e-5f * scale,
           qPrintable(QString::number((got - expected).cwiseAbs().maxCoeff())));
}

void tst_ExportDialogTransformer::dataExportEqualsTheCliLine_data() {
  QTest::addColumn<int>("layer");     // the layer on screen
  QTest::addColumn<double>("mass");   // the Attention dock's mass threshold (< 0: off)
  QTest::addColumn<int>("type");      // DataExport::Type
  QTest::addColumn<QString>("name");  // as --data names it
  QTest::addColumn<QString>("file");
  const int mask = static_cast<int>(DataExport::Type::AttentionMask);
  QTest::newRow("masks, block 2, default mass") << 3 << -1.0 << mask << "attention-mask:2"
                                                << "m.npz";
  QTest::newRow("masks, block 3, mass 0.35") << 4 << 0.35 << mask << "attention-mask:3:0.35"
                                             << "m.npz";
  QTest::newRow("attention, block 1")
      << 2 << -1.0 << static_cast<int>(DataExport::Type::Attention) << "attention:1"
      << "a.npy";
  QTest::newRow("tokens, block 2")
      << 3 << -1.0 << static_cast<int>(DataExport::Type::Tokens) << "tokens:2"
      << "t.npy";
}

// File > Export Data offers what `patchlens-cli export --data` writes, DINO's attention masks
// included (issue 21), and says the CLI line after saving: that line, run as a shell reads it,
// writes the same bytes.
void tst_ExportDialogTransformer::dataExportEqualsTheCliLine() {
  QFETCH(int, layer);
  QFETCH(double, mass);
  QFETCH(int, type);
  QFETCH(QString, name);
  QFETCH(QString, file);
  const std::string weights = test::dataPath("transformer/timm_vit_f32/model.safetensors");
  QVERIFY(openModel(QString::fromStdString(weights)));
  Session* session = m_window->session();
  session->setLayer(layer);
  if (mass >= 0) session->setAttentionMass(float(mass));
  auto* menu = m_window->findChild<QMenu*>(QStringLiteral("exportDataMenu"));
  QVERIFY(menu);
  int masks = 0;
  for (QAction* act : menu->actions()) {
    if (!act->text().contains(QStringLiteral("&Masks"))) continue;
    QVERIFY(act->isEnabled());
    ++masks;
  }
  QCOMPARE(masks, 1);
  AnalysisViews* analysis = AnalysisViews::of(*m_window);
  QVERIFY(analysis);
  QCOMPARE(analysis->currentDataName(type), name);
  const DataExport what = DataExport::parse(name.toStdString());
  const QString gui = m_dir.filePath(QStringLiteral("gui_") + file);
  const QString error = analysis->writeData(what, gui);
  QVERIFY2(error.isEmpty(), qPrintable(error));
  QStringList args = analysis->dataCommandArguments(what, gui);
  const QString line = ExportDialog::commandLineOf(args);
  QVERIFY2(line.startsWith(QStringLiteral("patchlens-cli export ")), qPrintable(line));
  QVERIFY2(line.contains(QStringLiteral(" --data ") + name + QStringLiteral(" -o ")),
           qPrintable(line));
  QStringList shell = QProcess::splitCommand(line);
  shell.removeFirst();
  QCOMPARE(shell, args);
  const QString cli = m_dir.filePath(QStringLiteral("cli_") + file);
  QCOMPARE(shell.value(shell.size() - 2), QStringLiteral("-o"));
  shell.last() = cli;
  QProcess process;
  process.start(QStringLiteral(PATCHLENS_BIN_DIR "/patchlens-cli"), shell);
  QVERIFY(process.waitForFinished(120000));
  QVERIFY2(process.exitCode() == 0, qPrintable(QString::fromUtf8(process.readAllStandardError())));
  const auto read = [](const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
  };
  const QByteArray guiBytes = read(gui);
  QVERIFY(guiBytes.size() > 100);
  QVERIFY2(guiBytes == read(cli), qPrintable(line));
}

void tst_ExportDialogTransformer::patchOnlyCheckpointDisablesTheEntries() {
  const QString path = m_dir.filePath(QStringLiteral("patch_only.safetensors"));
  test::writePatchOnlyWeights(path.toStdString());
  QVERIFY(openModel(path));
  Session* session = m_window->session();
  QVERIFY(!session->hasTransformer());
  ExportDialog dialog(session, m_window.get());
  auto* box = dialog.findChild<QComboBox*>(QStringLiteral("kindBox"));
  auto* model = qobject_cast<QStandardItemModel*>(box->model());
  QVERIFY(model);
  for (const char* kind : {"attention:1", "attention-heads:1", "rollout", "attention-distance",
                           "token-norms", "pca --foreground 0.50"}) {
    const int index = box->findData(QString::fromLatin1(kind));
    QVERIFY2(index >= 0, kind);
    QVERIFY2(!model->item(index)->isEnabled(), kind);
    QVERIFY2(model->item(index)->toolTip().contains(QStringLiteral("only a patch embedding")),
             qPrintable(model->item(index)->toolTip()));
  }
  // The patch embedding's own figures stay.
  const int pca = box->findData(QStringLiteral("pca"));
  QVERIFY(pca >= 0 && model->item(pca)->isEnabled());
  // File > Export Data: the transformer entries disabled, saying why.
  auto* menu = m_window->findChild<QMenu*>(QStringLiteral("exportDataMenu"));
  QVERIFY(menu);
  int disabled = 0;
  for (QAction* act : menu->actions()) {
    if (!act->text().contains(QStringLiteral("Layer on Screen")) &&
        !act->text().contains(QStringLiteral("Block on Screen")))
      continue;
    QVERIFY(!act->isEnabled());
    QVERIFY2(act->toolTip().contains(QStringLiteral("only a patch embedding")),
             qPrintable(act->toolTip()));
    ++disabled;
  }
  QCOMPARE(disabled, 3);  // tokens:L, attention:L, attention-mask:L
  QVERIFY(AnalysisViews::of(*m_window)
              ->currentDataName(static_cast<int>(DataExport::Type::Tokens))
              .isEmpty());
}

void tst_ExportDialogTransformer::imageMenuExportsTheOverlayFigure_data() {
  QTest::addColumn<QString>("overlay");
  QTest::addColumn<int>("head");
  QTest::addColumn<QString>("kind");      // what the right-click Export… offers
  QTest::addColumn<QString>("cliQuery");  // the CLI's --query for the same figure
  QTest::newRow("attention, mean") << "attention" << -1 << "attention:2"
                                   << "4,5";
  QTest::newRow("attention, head 1") << "attention" << 1 << "attention:2,1"
                                     << "4,5";
  QTest::newRow("rollout") << "rollout" << -1 << "rollout"
                           << "cls";
}

void tst_ExportDialogTransformer::imageMenuExportsTheOverlayFigure() {
  QFETCH(QString, overlay);
  QFETCH(int, head);
  QFETCH(QString, kind);
  QFETCH(QString, cliQuery);
  QVERIFY(openModel(
      QString::fromStdString(test::dataPath("transformer/timm_vit_f32/model.safetensors"))));
  Session* session = m_window->session();
  session->setLayer(3);
  session->setSelection({4, 5});
  session->setHead(head);
  session->setOverlay(*parseOverlayKind(overlay));
  QTRY_VERIFY(session->currentAttention());
  // Right-click the image, choose Export…: the dialog starts from that figure.
  FigureMenu::setHook([](QMenu& menu) {
    if (auto* act = menu.findChild<QAction*>(QStringLiteral("exportFigureAction"))) act->trigger();
  });
  ImageView* view = m_window->imageView();
  const QPoint at = view->patchCenter({1, 1}).toPoint();
  QContextMenuEvent event(QContextMenuEvent::Mouse, at, view->mapToGlobal(at));
  QCoreApplication::sendEvent(view, &event);
  FigureMenu::setHook({});
  ExportDialog* dialog = m_window->findChild<ExportDialog*>();
  QVERIFY(dialog);
  QCOMPARE(dialog->kind(), kind);
  QVERIFY(dialog->isFigureReady());
  FigureOptions cli = figureOptionsFor(*session, PlotKind::parse(kind.toStdString()));
  cli.query = TokenQuery::parse(cliQuery.toStdString());
  const auto expected =
      makeFigure(PlotKind::parse(kind.toStdString()), figureDataFor(*session->result()), cli);
  QCOMPARE(dialog->figure()->title(), expected->title());
  const QSizeF size = expected->preferredSize();
  QCOMPARE(FigureExporter::renderToImage(*dialog->figure(), size, 1.0),
           FigureExporter::renderToImage(*expected, size, 1.0));
  dialog->close();
}

QTEST_MAIN(tst_ExportDialogTransformer)
#include "tst_export_dialog_transformer.moc"
