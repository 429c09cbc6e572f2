#include "ui/main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QCollator>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QScreen>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QStatusBar>
#include <QTabBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <vector>

#include "core/model/vision_transformer.h"
#include "core/weights/weight_loader.h"
#include "ui/base/category_palette.h"
#include "ui/base/qt_conversions.h"
#include "ui/compare/compare_window.h"
#include "ui/panels/analysis_views.h"
#include "ui/panels/channel_panel.h"
#include "ui/panels/explain_views.h"
#include "ui/panels/layer_controls.h"
#include "ui/panels/model_panel.h"
#include "ui/panels/overlay_toolbar.h"
#include "ui/panels/patch_inspector.h"
#include "ui/panels/transformer_views.h"
#include "ui/session/explain_session.h"
#include "ui/session/session.h"
#include "ui/views/colorbar.h"
#include "ui/views/dock_action.h"
#include "ui/views/embedding_matrix_view.h"
#include "ui/views/image_view.h"
#include "ui/views/prefix_token_strip.h"

namespace patchlens {

namespace {

constexpr int kMaxRecentFiles = 10;
// The size the window was designed at; smaller screens get their available area.
constexpr QSize kDesignedSize(1500, 950);
// A dock tab's frame and margins around its title (Fusion style), in pixels.
constexpr int kTabPadding = 28;
// The dock's own title, kept while its tab shows a shorter one.
constexpr char kFullTitle[] = "patchlensFullTitle";

// The tab title of a dock whose tab strip is too short for the whole titles (six docks in
// the right column of a 1024 x 700 window); its tooltip and the View menu keep the whole one.
QString shortDockTitle(const QDockWidget& dock) {
  static const std::pair<const char*, const char*> kTitles[] = {
      {"inspectorDock", QT_TRANSLATE_NOOP("patchlens::MainWindow", "Inspector")},
      {"modelDock", QT_TRANSLATE_NOOP("patchlens::MainWindow", "Model")},
      {"matrixDock", QT_TRANSLATE_NOOP("patchlens::MainWindow", "Matrix")},
      {"positionSimilarityDock", QT_TRANSLATE_NOOP("patchlens::MainWindow", "Positions")},
      {"attentionDistanceDock", QT_TRANSLATE_NOOP("patchlens::MainWindow", "Distance")},
      {"tokenNormsDock", QT_TRANSLATE_NOOP("patchlens::MainWindow", "Norms")},
      {"foregroundPcaDock", QT_TRANSLATE_NOOP("patchlens::MainWindow", "PCA")},
      {"reconstructionDock", QT_TRANSLATE_NOOP("patchlens::MainWindow", "Reconstr.")},
  };
  for (const auto& [name, title] : kTitles)
    if (dock.objectName() == QLatin1String(name)) return MainWindow::tr(title);
  return dock.property(kFullTitle).toString();
}

// Extensions OpenCV's imread decodes (with Debian's build), for dialogs and next / previous.
const QStringList& imageExtensions() {
  static const QStringList extensions{"png",  "jpg", "jpeg", "jpe", "bmp", "dib", "tif", "tiff",
                                      "webp", "jp2", "ppm",  "pgm", "pbm", "pnm", "pfm", "pxm",
                                      "sr",   "ras", "exr",  "hdr", "pic", "avif"};
  return extensions;
}

bool hasWeightExtension(const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  static const QStringList kWeights{"safetensors", "npy", "npz", "pth", "pt", "bin", "gguf"};
  return kWeights.contains(suffix);
}

QIcon icon(const QString& name) {
  return QIcon(QStringLiteral(":/patchlens/icons/%1.svg").arg(name));
}

}  // namespace

MainWindow::MainWindow(QWidget* parent, SettingsMode settingsMode)
    : QMainWindow(parent), m_session(new Session(this)), m_settingsMode(settingsMode) {
  setWindowTitle(tr("PatchLens"));
  setWindowIcon(icon(QStringLiteral("patchlens")));
  setAcceptDrops(true);

  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->setSpacing(0);
  // The error banner floats over the top of the image (it does not push it down) and has a
  // close button; the next successful load hides it too.
  m_errorFrame = new QFrame(central);
  m_errorFrame->setObjectName(QStringLiteral("errorFrame"));
  m_errorFrame->setAutoFillBackground(true);
  setBannerColour(false);
  auto* bannerLayout = new QHBoxLayout(m_errorFrame);
  bannerLayout->setContentsMargins(8, 4, 4, 4);
  m_errorBanner = new QLabel(m_errorFrame);
  m_errorBanner->setObjectName(QStringLiteral("errorBanner"));
  m_errorBanner->setWordWrap(true);
  m_errorBanner->setTextInteractionFlags(Qt::TextSelectableByMouse);
  bannerLayout->addWidget(m_errorBanner, 1);
  auto* closeBanner = new QToolButton(m_errorFrame);
  closeBanner->setObjectName(QStringLiteral("errorBannerClose"));
  closeBanner->setText(QStringLiteral("✕"));
  closeBanner->setToolTip(tr("Dismiss this message"));
  closeBanner->setAccessibleName(tr("Dismiss the error"));
  connect(closeBanner, &QToolButton::clicked, this, [this] {
    m_session->dismissError();
    clearError();
  });
  bannerLayout->addWidget(closeBanner, 0, Qt::AlignTop);
  m_errorFrame->hide();
  central->installEventFilter(this);
  auto* row = new QHBoxLayout;
  row->setSpacing(0);
  m_imageView = new ImageView(m_session, central);
  row->addWidget(new PrefixTokenStrip(m_session, central), 0, Qt::AlignTop);
  row->addWidget(m_imageView, 1);
  m_colorbar = new ColorbarWidget(central);
  m_colorbar->setObjectName(QStringLiteral("overlayColorbar"));
  row->addWidget(m_colorbar);
  layout->addLayout(row, 1);
  m_overlayCaption = new QLabel(central);
  m_overlayCaption->setObjectName(QStringLiteral("overlayCaption"));
  m_overlayCaption->setContentsMargins(6, 3, 6, 3);
  m_overlayCaption->setWordWrap(true);  // long captions wrap instead of widening the window
  layout->addWidget(m_overlayCaption);
  setCentralWidget(central);

  m_statusLabel = new QLabel(this);
  statusBar()->addWidget(m_statusLabel, 1);
  m_progress = new QProgressBar(this);
  m_progress->setRange(0, 0);  // busy indicator: the core reports no fractions
  m_progress->setMaximumWidth(140);
  m_progress->setFormat(tr("Computing…"));
  m_progress->hide();
  statusBar()->addPermanentWidget(m_progress);

  createDocks();
  createActions();

  connect(m_session, &Session::resultChanged, this, &MainWindow::onResultChanged);
  connect(m_session, &Session::overlayChanged, this, &MainWindow::updateOverlayChrome);
  connect(m_session, &Session::channelChanged, this, &MainWindow::updateOverlayChrome);
  connect(m_session, &Session::selectionChanged, this, &MainWindow::updateOverlayChrome);
  connect(m_session, &Session::errorOccurred, this, &MainWindow::showError);
  connect(m_session->explain(), &ExplainSession::changed, this, &MainWindow::updateStatus);
  connect(m_session, &Session::busyChanged, this, [this](bool busy) {
    m_progress->setVisible(busy);
    updateStatus();
  });
  if (m_settingsMode == SettingsMode::Persistent) {
    readSettings();
  } else {
    resize(kDesignedSize);  // screenshots: --size sets it, the screen does not matter
  }
  updateOverlayChrome();
  updateStatus();
}

MainWindow::~MainWindow() {
  if (m_settingsMode == SettingsMode::Persistent) writeSettings();
}

QDockWidget* MainWindow::addDock(QWidget* content, const QString& title, const QString& objectName,
                                 Qt::DockWidgetArea area) {
  auto* dock = new QDockWidget(title, this);
  dock->setObjectName(objectName);
  auto* scroll = new QScrollArea(dock);
  scroll->setWidget(content);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);  // panels reflow instead
  dock->setWidget(scroll);
  addDockWidget(area, dock);
  return dock;
}

void MainWindow::createDocks() {
  // Side docks run the full height; the matrix sits under the image only.
  setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
  setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
  m_inspector = new PatchInspector(m_session);
  m_inspectorDock = addDock(m_inspector, tr("Patch inspector"), QStringLiteral("inspectorDock"),
                            Qt::RightDockWidgetArea);
  m_modelPanel = new ModelPanel(m_session);
  m_modelDock = addDock(m_modelPanel, tr("Model and preprocessing"), QStringLiteral("modelDock"),
                        Qt::LeftDockWidgetArea);
  m_channelPanel = new ChannelPanel(m_session);
  m_channelDock =
      addDock(m_channelPanel, tr("Channel"), QStringLiteral("channelDock"), Qt::LeftDockWidgetArea);
  tabifyDockWidget(m_modelDock, m_channelDock);
  m_matrixView = new EmbeddingMatrixView(m_session);
  m_matrixDock = new QDockWidget(tr("Embedding matrix"), this);
  m_matrixDock->setObjectName(QStringLiteral("matrixDock"));
  m_matrixDock->setWidget(m_matrixView);
  addDockWidget(Qt::BottomDockWidgetArea, m_matrixDock);
  m_channelDock->raise();
  connect(m_modelPanel, &ModelPanel::openWeightsRequested, this, &MainWindow::openWeightsDialog);
}

void MainWindow::createActions() {
  QMenu* fileMenu = menuBar()->addMenu(tr("&File"));
  QToolBar* fileToolBar = addToolBar(tr("File"));
  fileToolBar->setObjectName(QStringLiteral("fileToolBar"));

  QAction* openAct = fileMenu->addAction(icon(QStringLiteral("open")), tr("&Open Image…"), this,
                                         &MainWindow::open);
  openAct->setShortcut(QKeySequence::Open);
  openAct->setStatusTip(tr("Open an image in any format OpenCV reads"));
  fileToolBar->addAction(openAct);
  QAction* weightsAct = fileMenu->addAction(icon(QStringLiteral("weights")), tr("Open &Weights…"),
                                            this, &MainWindow::openWeightsDialog);
  weightsAct->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
  weightsAct->setStatusTip(
      tr("Use a pretrained patch embedding (.safetensors, .npy, .npz, .pth, .pt, .bin, .gguf)"));
  fileToolBar->addAction(weightsAct);
  m_recentMenu = fileMenu->addMenu(tr("Open &Recent"));
  fileMenu->addSeparator();
  QAction* prevAct =
      fileMenu->addAction(icon(QStringLiteral("previous")), tr("&Previous Image in Folder"), this,
                          [this] { openAdjacent(-1); });
  prevAct->setShortcut(QKeySequence::Back);
  QAction* nextAct = fileMenu->addAction(icon(QStringLiteral("next")), tr("&Next Image in Folder"),
                                         this, [this] { openAdjacent(1); });
  nextAct->setShortcut(QKeySequence::Forward);
  QAction* reloadAct = fileMenu->addAction(icon(QStringLiteral("reload")), tr("Re&load"), m_session,
                                           &Session::reload);
  reloadAct->setShortcut(QKeySequence::Refresh);
  fileToolBar->addAction(prevAct);
  fileToolBar->addAction(nextAct);
  fileToolBar->addAction(reloadAct);
  fileMenu->addSeparator();
  QAction* quitAct = fileMenu->addAction(tr("&Quit"), this, &QWidget::close);
  quitAct->setShortcut(QKeySequence::Quit);

  m_viewMenu = menuBar()->addMenu(tr("&View"));
  QAction* zoomInAct = m_viewMenu->addAction(icon(QStringLiteral("zoom-in")), tr("Zoom &In"),
                                             m_imageView, &ImageView::zoomIn);
  zoomInAct->setShortcuts({QKeySequence::ZoomIn, QKeySequence(tr("Ctrl+="))});
  QAction* zoomOutAct = m_viewMenu->addAction(icon(QStringLiteral("zoom-out")), tr("Zoom &Out"),
                                              m_imageView, &ImageView::zoomOut);
  zoomOutAct->setShortcut(QKeySequence::ZoomOut);
  QAction* fitAct = m_viewMenu->addAction(icon(QStringLiteral("zoom-fit")), tr("&Fit to Window"),
                                          m_imageView, &ImageView::fitToWindow);
  fitAct->setShortcut(QKeySequence(tr("Ctrl+0")));
  m_viewMenu->addSeparator();
  m_gridAction = m_viewMenu->addAction(icon(QStringLiteral("grid")), tr("Show Patch &Grid"));
  m_gridAction->setCheckable(true);
  m_gridAction->setChecked(m_imageView->showGrid());
  m_gridAction->setShortcut(QKeySequence(tr("Ctrl+G")));
  connect(m_gridAction, &QAction::toggled, m_imageView, &ImageView::setShowGrid);
  connect(m_imageView, &ImageView::showGridChanged, m_gridAction, &QAction::setChecked);
  m_originalAction =
      m_viewMenu->addAction(icon(QStringLiteral("original")), tr("Show &Original Image"));
  m_originalAction->setCheckable(true);
  m_originalAction->setShortcut(QKeySequence(tr("Ctrl+T")));
  m_originalAction->setStatusTip(
      tr("Toggle between the model input and the original image with the crop box"));
  connect(m_originalAction, &QAction::toggled, m_imageView, &ImageView::setShowOriginal);
  connect(m_imageView, &ImageView::showOriginalChanged, m_originalAction, &QAction::setChecked);
  QToolBar* viewToolBar = addToolBar(tr("View"));
  viewToolBar->setObjectName(QStringLiteral("viewToolBar"));
  viewToolBar->addActions({zoomInAct, zoomOutAct, fitAct, m_gridAction, m_originalAction});
  m_viewMenu->addAction(tr("Compare…"), this, [this] { CompareWindow::openFor(this, *m_session); });
  m_viewMenu->addAction(tr("Compare models…"), this,
                        [this] { CompareWindow::openModelsFor(this, *m_session); });
  m_viewMenu->addSeparator();
  for (QDockWidget* dock : {m_inspectorDock, m_channelDock, m_modelDock, m_matrixDock}) {
    m_viewMenu->addAction(makeDockAction(dock));
  }

  QMenu* overlayMenu = menuBar()->addMenu(tr("&Overlay"));
  m_overlayGroup = new QActionGroup(this);
  const std::pair<OverlayKind, QString> overlays[] = {
      {OverlayKind::None, tr("&None")},
      {OverlayKind::Channel, tr("&Channel k")},
      {OverlayKind::Norm, tr("&L2 Norm")},
      {OverlayKind::Mean, tr("&Mean")},
      {OverlayKind::Argmax, tr("&Argmax Channel")},
      {OverlayKind::Pca, tr("&PCA → RGB")},
      {OverlayKind::Similarity, tr("&Similarity to Selected Patch")},
      {OverlayKind::Attention, tr("A&ttention from the Query")},
      {OverlayKind::Rollout, tr("Attention &Rollout")},
  };
  int digit = 0;
  for (const auto& [kind, text] : overlays) {
    QAction* act = overlayMenu->addAction(text);
    act->setCheckable(true);
    act->setData(overlayKindKey(kind));
    act->setShortcut(QKeySequence(QStringLiteral("Alt+%1").arg(digit++)));
    m_overlayGroup->addAction(act);
    connect(act, &QAction::triggered, this, [this, kind = kind] { m_session->setOverlay(kind); });
  }
  overlayMenu->addSeparator();
  QAction* nextChannel =
      overlayMenu->addAction(tr("N&ext Channel"), this, [this] { stepChannel(1); });
  nextChannel->setShortcut(QKeySequence(Qt::Key_PageUp));
  QAction* prevChannel =
      overlayMenu->addAction(tr("P&revious Channel"), this, [this] { stepChannel(-1); });
  prevChannel->setShortcut(QKeySequence(Qt::Key_PageDown));

  // The layer every token view shows, on the first row beside the file and view buttons:
  // with the overlay's controls in one row, a 1024-pixel window hid Scale and Opacity
  // behind the toolbar's "»" (issue 21, defect 12).
  QToolBar* layerToolBar = addToolBar(tr("Layer"));
  layerToolBar->setObjectName(QStringLiteral("layerToolBar"));
  auto* layers = new LayerControls(m_session, layerToolBar);
  layerToolBar->addWidget(layers);
  m_overlayToolBar = new OverlayToolBar(m_session, this);
  addToolBarBreak();
  addToolBar(m_overlayToolBar);
  // The layer keys in a menu (and so in F1's table), beside the channel keys.
  overlayMenu->addSeparator();
  overlayMenu->addAction(layers->deeperAction());
  overlayMenu->addAction(layers->shallowerAction());

  QMenu* helpMenu = menuBar()->addMenu(tr("&Help"));
  QAction* shortcutsAct =
      helpMenu->addAction(tr("&Keyboard Shortcuts"), this, &MainWindow::showShortcuts);
  shortcutsAct->setShortcut(QKeySequence::HelpContents);
  helpMenu->addAction(tr("&About PatchLens"), this, &MainWindow::about);
  helpMenu->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
  updateRecentMenu();
  // Filter gallery, filter PCA, position embedding, reconstruction; File > Export…, Export Data.
  new AnalysisViews(*this, *m_session, fileMenu, m_viewMenu);
  // Attention, attention distance, token norms, DINOv2-style PCA (issue 12).
  new TransformerViews(*this, *m_session, m_viewMenu);
  // Prediction dock, Grad-CAM and relevance overlays (issue 22).
  new ExplainViews(*this, *m_session, m_viewMenu, overlayMenu);
}

QString MainWindow::errorText() const {
  return m_errorFrame->isHidden() ? QString() : m_errorBanner->text();
}

void MainWindow::placeErrorBanner() {
  QWidget* central = centralWidget();
  if (!central) return;
  const int width = central->width();
  const int height = m_errorFrame->layout()->heightForWidth(width);
  m_errorFrame->setGeometry(0, 0, width, height > 0 ? height : m_errorFrame->sizeHint().height());
  m_errorFrame->raise();
}

bool MainWindow::eventFilter(QObject* watched, QEvent* event) {
  if (watched == centralWidget() && event->type() == QEvent::Resize) placeErrorBanner();
  return QMainWindow::eventFilter(watched, event);
}

void MainWindow::openPath(const QString& path) {
  const bool weights = hasWeightExtension(path) || looksLikeWeightFile(path.toStdString());
  if (weights) {
    openWeights(path);
  } else {
    openImage(path);
  }
}

void MainWindow::openImage(const QString& path) {
  m_lastDirectory = QFileInfo(path).absolutePath();
  m_session->openImage(path);
}

void MainWindow::openWeights(const QString& path, bool checkOnSample) {
  m_lastDirectory = QFileInfo(path).absolutePath();
  const QString note = m_session->openWeights(path, checkOnSample);
  if (!note.isEmpty()) statusBar()->showMessage(note, 15000);
}

void MainWindow::raiseDock(const QString& name) {
  const std::pair<const char*, QDockWidget*> docks[] = {{"inspector", m_inspectorDock},
                                                        {"channel", m_channelDock},
                                                        {"model", m_modelDock},
                                                        {"matrix", m_matrixDock}};
  for (const auto& [key, dock] : docks) {
    if (name == QLatin1String(key)) {
      dock->show();
      dock->raise();
      // The matrix is 196 x 768: give it room when asked for explicitly.
      if (dock == m_matrixDock) resizeDocks({m_matrixDock}, {height() / 2}, Qt::Vertical);
    }
  }
  if (AnalysisViews* views = AnalysisViews::of(*this)) views->raiseDock(name);
  if (TransformerViews* views = TransformerViews::of(*this)) views->raiseDock(name);
  if (ExplainViews* views = ExplainViews::of(*this)) views->raiseDock(name);
}

void MainWindow::open() {
  const QString filter =
      tr("Images (%1);;All files (*)")
          .arg(imageExtensions().isEmpty()
                   ? QString()
                   : QStringLiteral("*.") + imageExtensions().join(QStringLiteral(" *.")));
  const QString path =
      QFileDialog::getOpenFileName(this, tr("Open Image"), m_lastDirectory, filter);
  if (!path.isEmpty()) openImage(path);
}

void MainWindow::openWeightsDialog() {
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Open Weights"), m_lastDirectory,
      tr("Weight files (*.safetensors *.npy *.npz *.pth *.pt *.bin *.gguf);;All files (*)"));
  if (!path.isEmpty()) openWeights(path);
}

void MainWindow::openAdjacent(int step) {
  const auto& result = m_session->result();
  if (!result || result->imagePath.startsWith(QLatin1Char(':'))) return;
  const QFileInfo current(result->imagePath);
  QStringList patterns;
  for (const QString& ext : imageExtensions())
    patterns << QStringLiteral("*.") + ext << QStringLiteral("*.") + ext.toUpper();
  QStringList files = current.absoluteDir().entryList(patterns, QDir::Files | QDir::Readable);
  QCollator collator;
  collator.setNumericMode(true);
  std::sort(files.begin(), files.end(), collator);
  files.removeDuplicates();
  const qsizetype index = files.indexOf(current.fileName());
  if (files.isEmpty() || index < 0) return;
  const qsizetype next = (index + step + files.size()) % files.size();
  openImage(current.absoluteDir().filePath(files[next]));
}

void MainWindow::stepChannel(int step) {
  const auto& result = m_session->result();
  if (!result) return;
  const int target = m_session->channel() + step;
  if (target < 0 || target >= result->embedDim()) {
    // Say why nothing changed instead of ignoring the key.
    statusBar()->showMessage(target < 0
                                 ? tr("Channel 0 is the first channel")
                                 : tr("Channel %1 is the last channel").arg(result->embedDim() - 1),
                             3000);
    return;
  }
  m_session->setChannel(target);
}

namespace {

// Every action with a shortcut in `menu` and its submenus, as (menu path, text, keys).
void collectShortcuts(const QMenu* menu, const QString& path, QList<QStringList>& rows) {
  for (const QAction* act : menu->actions()) {
    if (act->menu()) {
      collectShortcuts(act->menu(), path + QStringLiteral(" ▸ ") + act->menu()->title(), rows);
      continue;
    }
    if (act->shortcuts().isEmpty()) continue;
    QStringList keys;
    for (const QKeySequence& key : act->shortcuts()) keys << key.toString(QKeySequence::NativeText);
    rows.append({QString(path).remove(QLatin1Char('&')), QString(act->text()).remove('&'),
                 keys.join(QStringLiteral(", "))});
  }
}

}  // namespace

QString MainWindow::shortcutsHtml() const {
  QList<QStringList> rows;
  for (const QAction* act : menuBar()->actions()) {
    if (act->menu()) collectShortcuts(act->menu(), act->menu()->title(), rows);
  }
  QString html = QStringLiteral("<table cellspacing=0 cellpadding=3>");
  QString lastMenu;
  for (const QStringList& row : rows) {
    if (row[0] != lastMenu) {
      html += QStringLiteral("<tr><td colspan=2><b>%1</b></td></tr>").arg(row[0].toHtmlEscaped());
      lastMenu = row[0];
    }
    html += QStringLiteral("<tr><td>%1</td><td><tt>%2</tt></td></tr>")
                .arg(row[1].toHtmlEscaped(), row[2].toHtmlEscaped());
  }
  html +=
      QStringLiteral(
          "<tr><td colspan=2><b>Image view</b></td></tr>"
          "<tr><td>%1</td><td><tt>%2</tt></td></tr>"
          "<tr><td>%3</td><td><tt>%4</tt></td></tr>"
          "<tr><td>%5</td><td><tt>%6</tt></td></tr>"
          "<tr><td>%7</td><td><tt>%8</tt></td></tr>"
          "<tr><td>%9</td><td><tt>%10</tt></td></tr></table>")
          .arg(tr("Move the selected patch"), tr("Arrow keys"), tr("Select a patch"), tr("Click"),
               tr("Clear the selection"),
               QKeySequence(Qt::Key_Escape).toString(QKeySequence::NativeText), tr("Pan / zoom"),
               tr("Drag, middle-drag / wheel"), tr("Export or copy a figure"), tr("Right-click"));
  return html;
}

void MainWindow::showShortcuts() {
  // Generated from the actions themselves, so it cannot disagree with the menus.
  QMessageBox box(this);
  box.setWindowTitle(tr("Keyboard Shortcuts"));
  box.setTextFormat(Qt::RichText);
  box.setText(shortcutsHtml());
  box.exec();
}

void MainWindow::about() {
  QMessageBox::about(
      this, tr("About PatchLens"),
      tr("<p><b>PatchLens</b> %1</p><p>See what a Vision Transformer's patch embedding does to an "
         "image: the patch grid, every token, every channel and the filters.</p>")
          .arg(QApplication::applicationVersion()));
}

void MainWindow::setBannerColour(bool warning) {
  // Red for an error, amber for a warning about an image that did load (a truncated JPEG).
  m_errorFrame->setStyleSheet(
      QStringLiteral("#errorFrame { background: %1; } #errorFrame QLabel { color: white; } "
                     "#errorFrame QToolButton { color: white; border: none; font-weight: bold; }")
          .arg(warning ? QStringLiteral("#8a5300") : QStringLiteral("#b3261e")));
}

void MainWindow::showError(const QString& message) {
  setBannerColour(false);
  // With nothing on screen yet there is no previous state to keep: the view stays empty.
  m_errorBanner->setText(m_session->hasResult()
                             ? tr("Could not load: %1. The previous state is kept.").arg(message)
                             : tr("Could not load: %1").arg(message));
  m_errorFrame->show();
  placeErrorBanner();
  // The banner says it in full; the status bar only until the next image arrives.
  statusBar()->showMessage(tr("Error: %1").arg(message));
}

void MainWindow::clearError() {
  m_errorBanner->clear();
  m_errorFrame->hide();
  statusBar()->clearMessage();
}

void MainWindow::onResultChanged() {
  // A new result clears the session's error; a layer swap of the state kept after a failed
  // open does not, and the banner stays until dismissed or the next image.
  const bool errorPending = !m_session->lastError().isEmpty();
  if (!errorPending) clearError();
  const auto& result = m_session->result();
  if (result && !result->imagePath.startsWith(QLatin1Char(':'))) {
    addRecentFile(result->imagePath);
    setWindowFilePath(result->imagePath);
    setWindowTitle(tr("%1 — PatchLens").arg(QFileInfo(result->imagePath).fileName()));
  } else if (result) {
    setWindowTitle(tr("Sample image — PatchLens"));
  }
  if (result && !result->warnings.isEmpty() && !errorPending) {
    // A warning stays until dismissed or the next image, and names the file it is about.
    const QString name = result->imagePath.startsWith(QLatin1Char(':'))
                             ? tr("sample image")
                             : QFileInfo(result->imagePath).fileName();
    const QString text =
        tr("Warning: %1: %2").arg(name, result->warnings.join(QStringLiteral("; ")));
    setBannerColour(true);
    m_errorBanner->setText(text);
    m_errorFrame->show();
    placeErrorBanner();
    statusBar()->showMessage(text, 10000);
  }
  updateOverlayChrome();
  updateStatus();
}

void MainWindow::updateOverlayChrome() {
  const OverlayMap& map = m_session->overlayMap();
  for (QAction* act : m_overlayGroup->actions()) {
    act->setChecked(act->data().toString() == overlayKindKey(m_session->overlay()));
  }
  // Argmax colours are categories (channel indices), not amounts: a legend of the channels
  // that win most often replaces the continuous colorbar.
  const bool categorical = map.kind == OverlayKind::Argmax && !map.empty();
  if (map.empty() || map.isRgb || categorical) {
    m_colorbar->setSpec(std::nullopt);
  } else {
    m_colorbar->setSpec(ColorbarSpec{map.colormap, map.range, map.label, map.integerValues});
  }
  QString caption;
  if (!m_session->hasResult()) {
    caption = tr("No image");
  } else if (m_session->overlay() == OverlayKind::None) {
    caption = tr("No overlay");
  } else if (map.empty() && map.kind == OverlayKind::Pca) {
    caption = tr("Computing the PCA…");
  } else if (map.empty() && map.kind == OverlayKind::Similarity) {
    caption = tr("Select a patch to see the similarity of every token to it");
  } else if (map.empty()) {
    caption = map.label;  // why there is nothing to draw ("these weights hold no transformer")
  } else if (map.isRgb) {
    caption = tr("%1; PC1 → red, PC2 → green, PC3 → blue, each min-max scaled").arg(map.label);
  } else if (categorical) {
    caption = argmaxLegend(map);
  } else {
    // The label names the colour scale (or says the map is uniform).
    caption = tr("Overlay: %1 · %2 [%3, %4]")
                  .arg(map.label, toQString(Colormap::get(map.colormap).name()))
                  .arg(map.range.lo, 0, 'g', 4)
                  .arg(map.range.hi, 0, 'g', 4);
  }
  m_overlayCaption->setText(caption);
}

QString MainWindow::argmaxLegend(const OverlayMap& map) const {
  const auto ranked = CategoryPalette::ranked(map.values);
  QStringList entries;
  const int shown = std::min(static_cast<int>(ranked.size()), CategoryPalette::kDistinct);
  for (int i = 0; i < shown; ++i) {
    const auto [channel, count] = ranked[static_cast<std::size_t>(i)];
    entries << tr("<span style=\"color:%1\">■</span> ch %2 (%3)")
                   .arg(CategoryPalette::color(i).name())
                   .arg(channel)
                   .arg(count);
  }
  if (static_cast<int>(ranked.size()) > shown)
    entries << tr("<span style=\"color:%1\">■</span> %2 others")
                   .arg(CategoryPalette::color(shown).name())
                   .arg(ranked.size() - static_cast<std::size_t>(shown));
  return tr("Argmax: each patch in the colour of its largest channel (categories, not "
            "amounts; patches per channel in brackets): %1")
      .arg(entries.join(QStringLiteral(" ")));
}

void MainWindow::updateStatus() {
  if (!m_statusLabel) return;
  QString text = m_session->statusText();
  // Where the head count comes from when the user may want to change it: --heads or a guess.
  if (const auto& r = m_session->result(); r && r->model) {
    const TransformerConfig& c = r->model->config();
    if (c.headsGuessed) {
      text +=
          tr(" · %1 heads (a guess from the width; launch with --heads N to set)").arg(c.numHeads);
    } else if (c.headsSource == "--heads") {
      text += tr(" · %1 heads (--heads)").arg(c.numHeads);
    }
  }
  if (m_session->isBusy()) text = tr("Computing… (showing: %1)").arg(text);
  // A 1024-pixel window has no room for a long weights path: the line names the file, its
  // tooltip the whole path.
  m_statusLabel->setToolTip(text);
  const int room = statusBar()->width() - 24 -
                   (m_progress && m_progress->isVisible() ? m_progress->width() + 6 : 0);
  if (const auto& r = m_session->result();
      r && r->weights && m_statusLabel->fontMetrics().horizontalAdvance(text) > room) {
    const QString path = toQString(r->weights->file);
    text.replace(path, QFileInfo(path).fileName());
  }
  // Still too long (a family's long description, "explaining …"): cut at the end with "…"
  // rather than at the window's edge; the tooltip keeps the whole line.
  text = m_statusLabel->fontMetrics().elidedText(text, Qt::ElideRight, std::max(room, 40));
  m_statusLabel->setText(text);
}

void MainWindow::addRecentFile(const QString& path) {
  const QString absolute = QFileInfo(path).absoluteFilePath();
  m_recentFiles.removeAll(absolute);
  m_recentFiles.prepend(absolute);
  while (m_recentFiles.size() > kMaxRecentFiles) m_recentFiles.removeLast();
  updateRecentMenu();
}

void MainWindow::updateRecentMenu() {
  m_recentMenu->clear();
  for (const QString& path : std::as_const(m_recentFiles)) {
    QAction* act =
        m_recentMenu->addAction(QFileInfo(path).fileName(), this, [this, path] { openPath(path); });
    act->setToolTip(path);
  }
  m_recentMenu->setEnabled(!m_recentFiles.isEmpty());
  if (!m_recentFiles.isEmpty()) {
    m_recentMenu->addSeparator();
    m_recentMenu->addAction(tr("&Clear List"), this, [this] {
      m_recentFiles.clear();
      updateRecentMenu();
    });
  }
}

void MainWindow::readSettings() {
  QSettings settings;
  if (const QByteArray geometry = settings.value("window/geometry").toByteArray();
      !geometry.isEmpty()) {
    restoreGeometry(geometry);
  } else {
    resize(defaultSize(screen()));
  }
  // A saved layout keeps its dock sizes; otherwise the first show fits them to the window.
  m_docksFitted = restoreState(settings.value("window/state").toByteArray());
  m_recentFiles = settings.value("recentFiles").toStringList();
  m_lastDirectory = settings.value("lastDirectory").toString();
  updateRecentMenu();

  m_imageView->setShowGrid(settings.value("view/grid", true).toBool());
  m_imageView->setShowOriginal(settings.value("view/original", false).toBool());

  PipelineConfig config = m_session->config();
  settings.beginGroup(QStringLiteral("model"));
  const QString weights = settings.value("weights", QStringLiteral("xavier")).toString();
  // A weight file that has gone away falls back to the default initializer.
  if (parseInitializer(weights.toStdString()) || QFileInfo::exists(weights))
    config.weights.source = weights.toStdString();
  config.weights.seed = settings.value("seed", 0).toULongLong();
  config.preprocess.height = settings.value("height", config.preprocess.height).toInt();
  config.preprocess.width = settings.value("width", config.preprocess.width).toInt();
  config.weights.shape.patchSize =
      settings.value("patchSize", config.weights.shape.patchSize).toInt();
  config.weights.shape.embedDim = settings.value("embedDim", config.weights.shape.embedDim).toInt();
  if (const auto mode = parseResizeMode(settings.value("resize").toString().toStdString()))
    config.preprocess.resize = *mode;
  config.preprocess.cropPct = settings.value("cropPct", config.preprocess.cropPct).toDouble();
  config.preprocess.maxPatches =
      std::clamp(settings.value("maxPatches", config.preprocess.maxPatches).toInt(), 1, 65536);
  if (const auto interp =
          parseInterpolation(settings.value("interpolation").toString().toStdString())) {
    config.preprocess.interpolation = *interp;
  }
  if (const auto norm =
          Normalization::parse(settings.value("normalization").toString().toStdString())) {
    config.preprocess.normalization = *norm;
  }
  config.remainder = settings.value("remainder").toString() == QLatin1String("pad")
                         ? RemainderPolicy::Pad
                         : RemainderPolicy::Crop;
  config.fastDecode = settings.value("fastDecode", false).toBool();
  settings.endGroup();
  m_session->setConfig(config);

  settings.beginGroup(QStringLiteral("overlay"));
  if (const auto kind = parseOverlayKind(settings.value("kind").toString()))
    m_session->setOverlay(*kind);
  m_session->setColormapChoice(
      Colormap::parse(settings.value("colormap").toString().toStdString()));
  m_session->setScaleChoice(parseScaleMode(settings.value("scale").toString()));
  m_session->setOpacity(settings.value("opacity", m_session->opacity()).toDouble());
  m_session->setChannel(settings.value("channel", 0).toInt());
  settings.endGroup();
}

void MainWindow::writeSettings() const {
  QSettings settings;
  settings.setValue("window/geometry", saveGeometry());
  settings.setValue("window/state", saveState());
  settings.setValue("recentFiles", m_recentFiles);
  settings.setValue("lastDirectory", m_lastDirectory);
  settings.setValue("view/grid", m_imageView->showGrid());
  settings.setValue("view/original", m_imageView->showOriginal());

  const PipelineConfig& config = m_session->config();
  settings.beginGroup(QStringLiteral("model"));
  settings.setValue("weights", toQString(config.weights.source));
  settings.setValue("seed", static_cast<qulonglong>(config.weights.seed));
  settings.setValue("height", config.preprocess.height);
  settings.setValue("width", config.preprocess.width);
  settings.setValue("patchSize", config.weights.shape.patchSize);
  settings.setValue("embedDim", config.weights.shape.embedDim);
  settings.setValue("resize", toQString(resizeModeName(config.preprocess.resize)));
  settings.setValue("cropPct", config.preprocess.cropPct);
  settings.setValue("maxPatches", config.preprocess.maxPatches);
  settings.setValue("interpolation", toQString(interpolationName(config.preprocess.interpolation)));
  settings.setValue("normalization", toQString(config.preprocess.normalization.name));
  settings.setValue("remainder", config.remainder == RemainderPolicy::Pad ? "pad" : "crop");
  settings.setValue("fastDecode", config.fastDecode);
  settings.endGroup();

  settings.beginGroup(QStringLiteral("overlay"));
  settings.setValue("kind", overlayKindKey(m_session->overlay()));
  const auto colormap = m_session->colormapChoice();
  settings.setValue("colormap", colormap ? toQString(Colormap::get(*colormap).name()) : QString());
  const auto scale = m_session->scaleChoice();
  settings.setValue("scale", scale ? scaleModeKey(*scale) : QString());
  settings.setValue("opacity", m_session->opacity());
  settings.setValue("channel", m_session->channel());
  settings.endGroup();
}

QSize MainWindow::defaultSize(const QScreen* screen) {
  if (!screen) return kDesignedSize;
  // Leave room for the window manager's frame and title bar (not part of the size).
  const QSize available = screen->availableGeometry().size() - QSize(16, 48);
  return kDesignedSize.boundedTo(available).expandedTo(QSize(640, 480));
}

void MainWindow::fitDocksToWindow() {
  // A dock is never narrower than its panel can reflow to (else the panel is cut off at the
  // right edge); measured now, when the style and fonts are final.
  for (QDockWidget* dock : {m_inspectorDock, m_channelDock, m_modelDock}) {
    if (auto* scroll = qobject_cast<QScrollArea*>(dock->widget()); scroll && scroll->widget()) {
      scroll->setMinimumWidth(scroll->widget()->minimumSizeHint().width() +
                              scroll->verticalScrollBar()->sizeHint().width() + 2);
    }
  }
  const int w = width();
  const int h = height();
  // The designed widths (340 and 470 at 1500 px), a share of the window below that: at
  // 1024 px the image keeps about 45 % of the width.
  const int modelWidth = std::clamp(w * 340 / 1500, 250, 340);
  const int inspectorWidth = std::clamp(w * 470 / 1500, 300, 470);
  // Both left docks (tabbed: the one in front sets the area's width) and the inspector.
  resizeDocks({m_modelDock, m_channelDock, m_inspectorDock},
              {modelWidth, modelWidth, inspectorWidth}, Qt::Horizontal);
  resizeDocks({m_matrixDock}, {std::clamp(h * 190 / 950, 150, 260)}, Qt::Vertical);
}

void MainWindow::showEvent(QShowEvent* event) {
  if (!m_docksFitted) {
    m_docksFitted = true;
    fitDocksToWindow();
    // A dock shown or hidden later (the transformer docks appear with the first
    // transformer) changes how many tabs share a column.
    for (QDockWidget* dock : findChildren<QDockWidget*>(Qt::FindDirectChildrenOnly)) {
      connect(dock, &QDockWidget::visibilityChanged, this,
              [this] { QTimer::singleShot(0, this, &MainWindow::updateTabPositions); });
    }
  }
  QMainWindow::showEvent(event);
  updateTabPositions();
}

void MainWindow::resizeEvent(QResizeEvent* event) {
  QMainWindow::resizeEvent(event);
  // After the layout has given the docks their new widths.
  QTimer::singleShot(0, this, &MainWindow::updateTabPositions);
  updateStatus();
}

void MainWindow::updateTabPositions() {
  // Tabs along the top while their titles fit the dock's width, along the outer edge (read
  // top to bottom, never elided) when they would be cut to "Patch inspe…".
  const std::pair<Qt::DockWidgetArea, QTabWidget::TabPosition> sides[] = {
      {Qt::LeftDockWidgetArea, QTabWidget::West}, {Qt::RightDockWidgetArea, QTabWidget::East}};
  for (const auto& [area, side] : sides) {
    int needed = 0;
    int width = 0;
    for (QDockWidget* dock : findChildren<QDockWidget*>(Qt::FindDirectChildrenOnly)) {
      // Docks the user closed (View menu unchecked) have no tab.
      if (dockWidgetArea(dock) != area || dock->isFloating() ||
          !dock->toggleViewAction()->isChecked())
        continue;
      if (!dock->property(kFullTitle).isValid()) dock->setProperty(kFullTitle, dock->windowTitle());
      needed +=
          fontMetrics().horizontalAdvance(dock->property(kFullTitle).toString()) + kTabPadding;
      width = std::max(width, dock->width());
    }
    const QTabWidget::TabPosition wanted = needed > width ? side : QTabWidget::North;
    if (tabPosition(area) != wanted) setTabPosition(area, wanted);
  }
  // When even the edge is too short for every title (eight docks in one column at 768 px),
  // titles stay whole and the tab bar scrolls instead of cutting them to "Patch ins…".
  for (QTabBar* bar : findChildren<QTabBar*>(Qt::FindDirectChildrenOnly)) {
    bar->setElideMode(Qt::ElideNone);
    bar->setUsesScrollButtons(true);
    fitTabTitles(*bar);
  }
}

void MainWindow::fitTabTitles(QTabBar& bar) {
  // The whole titles when they fit the strip's length, else the short titles of the docks
  // they shorten most, until the strip holds every tab (1024 x 700: "Inspector", "Distance",
  // "Norms"): a strip that scrolls hides its last tabs behind arrows.
  if (!bar.isVisible() || bar.count() == 0) return;
  const QTabBar::Shape shape = bar.shape();
  const bool vertical = shape == QTabBar::RoundedWest || shape == QTabBar::RoundedEast ||
                        shape == QTabBar::TriangularWest || shape == QTabBar::TriangularEast;
  const QList<QDockWidget*> docks = findChildren<QDockWidget*>(Qt::FindDirectChildrenOnly);
  struct Tab {
    int index = 0;
    QDockWidget* dock = nullptr;
    QString full;
    QString brief;
    int saves = 0;
  };
  std::vector<Tab> tabs;
  int needed = 0;
  const QFontMetrics fm = bar.fontMetrics();
  for (int i = 0; i < bar.count(); ++i) {
    const auto found = std::find_if(docks.begin(), docks.end(), [&](const QDockWidget* d) {
      return d->windowTitle() == bar.tabText(i);
    });
    if (found == docks.end()) return;  // not a dock's strip
    QDockWidget* dock = *found;
    if (!dock->property(kFullTitle).isValid()) dock->setProperty(kFullTitle, dock->windowTitle());
    Tab tab{i, dock, dock->property(kFullTitle).toString(), shortDockTitle(*dock), 0};
    const QRect r = bar.tabRect(i);
    const int padding = (vertical ? r.height() : r.width()) - fm.horizontalAdvance(bar.tabText(i));
    needed += fm.horizontalAdvance(tab.full) + padding;
    tab.saves = fm.horizontalAdvance(tab.full) - fm.horizontalAdvance(tab.brief);
    tabs.push_back(tab);
  }
  int excess = needed - (vertical ? bar.height() : bar.width());
  std::vector<Tab> bySaving = tabs;
  std::stable_sort(bySaving.begin(), bySaving.end(),
                   [](const Tab& a, const Tab& b) { return a.saves > b.saves; });
  bool changed = false;
  for (Tab& tab : bySaving) {
    const bool shorten = excess > 0 && tab.saves > 0;
    if (shorten) excess -= tab.saves;
    const QString& title = shorten ? tab.brief : tab.full;
    if (tab.dock->windowTitle() == title) continue;
    tab.dock->setWindowTitle(title);
    changed = true;
  }
  if (changed) {
    // The strip takes the new titles with the next layout, which sets them as tooltips too.
    QTimer::singleShot(0, this, &MainWindow::updateTabPositions);
    return;
  }
  for (const Tab& tab : tabs) bar.setTabToolTip(tab.index, tab.full);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (m_settingsMode == SettingsMode::Persistent) writeSettings();
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) {
    for (const QUrl& url : event->mimeData()->urls()) {
      if (url.isLocalFile()) {
        event->acceptProposedAction();
        return;
      }
    }
  }
}

void MainWindow::dropEvent(QDropEvent* event) {
  // Several files at once: weights first, so the image is computed with them.
  QStringList images;
  for (const QUrl& url : event->mimeData()->urls()) {
    if (!url.isLocalFile()) continue;
    const QString path = url.toLocalFile();
    if (hasWeightExtension(path) || looksLikeWeightFile(path.toStdString())) {
      openWeights(path);
    } else {
      images << path;
    }
  }
  if (!images.isEmpty()) openImage(images.first());
  event->acceptProposedAction();
}

}  // namespace patchlens
