#include "ui/panels/analysis_views.h"

#include <QAction>
#include <QCoreApplication>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMainWindow>
#include <QMenu>
#include <QMessageBox>
#include <QScrollArea>
#include <QScrollBar>
#include <QStatusBar>
#include <QVBoxLayout>

#include "core/io/error.h"
#include "ui/figures/data_export.h"
#include "ui/figures/export_dialog.h"
#include "ui/figures/figure_data.h"
#include "ui/figures/plot_kind.h"
#include "ui/launch_options.h"
#include "ui/panels/filter_pca_panel.h"
#include "ui/panels/position_similarity_panel.h"
#include "ui/panels/reconstruction_panel.h"
#include "ui/session/analysis_cache.h"
#include "ui/session/session.h"
#include "ui/views/dock_action.h"
#include "ui/views/filter_gallery_view.h"

namespace patchlens {

AnalysisViews::AnalysisViews(QMainWindow& window, Session& session, QMenu* fileMenu,
                             QMenu* viewMenu)
    : QObject(&window),
      m_window(window),
      m_session(session),
      m_cache(new AnalysisCache(&session, this)) {
  setObjectName(QStringLiteral("analysisViews"));
  m_lastDirectory = QDir::homePath();
  createDocks();
  createActions(fileMenu, viewMenu);
  connect(&m_session, &Session::resultChanged, this, &AnalysisViews::updateActions);
  connect(&m_session, &Session::selectionChanged, this, &AnalysisViews::updateActions);
  updateActions();
}

AnalysisViews* AnalysisViews::of(const QMainWindow& window) {
  return window.findChild<AnalysisViews*>(QStringLiteral("analysisViews"),
                                          Qt::FindDirectChildrenOnly);
}

QDockWidget* AnalysisViews::addDock(QWidget* content, const QString& title,
                                    const QString& objectName) {
  auto* dock = new QDockWidget(title, &m_window);
  dock->setObjectName(objectName);
  dock->setWidget(content);
  return dock;
}

void AnalysisViews::createDocks() {
  m_gallery = new FilterGalleryView(m_cache);
  m_gallery->setObjectName(QStringLiteral("filterGallery"));
  auto* scroll = new QScrollArea;
  scroll->setWidget(m_gallery);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);  // the grid reflows instead
  connect(m_gallery, &FilterGalleryView::currentTileChanged, scroll, [scroll](const QRect& tile) {
    if (!tile.isEmpty())
      scroll->ensureVisible(tile.center().x(), tile.center().y(), tile.width(), tile.height());
  });
  auto* galleryPanel = new QWidget;
  auto* galleryLayout = new QVBoxLayout(galleryPanel);
  galleryLayout->setContentsMargins(0, 0, 0, 0);
  galleryLayout->setSpacing(0);
  auto* caption = new QLabel(
      tr("Every filter of the patch embedding (each scaled to ±max|w|, grey = 0). Click one to "
         "show its channel; right-click to export."));
  caption->setWordWrap(true);
  caption->setContentsMargins(6, 4, 6, 4);
  galleryLayout->addWidget(caption);
  galleryLayout->addWidget(scroll, 1);
  m_galleryDock = addDock(galleryPanel, tr("Filters"), QStringLiteral("filterGalleryDock"));
  m_filterPca = new FilterPcaPanel(m_cache);
  m_filterPcaDock = addDock(m_filterPca, tr("Filter PCA"), QStringLiteral("filterPcaDock"));
  m_position = new PositionSimilarityPanel(m_cache);
  m_positionDock =
      addDock(m_position, tr("Position embedding"), QStringLiteral("positionSimilarityDock"));
  m_reconstruction = new ReconstructionPanel(m_cache);
  m_reconstructionDock =
      addDock(m_reconstruction, tr("Reconstruction"), QStringLiteral("reconstructionDock"));
  connect(m_reconstructionDock, &QDockWidget::visibilityChanged, m_reconstruction,
          &ReconstructionPanel::setOnScreen);

  // Beside the inspector (right) and the matrix (bottom), behind them until asked for.
  auto* inspector = m_window.findChild<QDockWidget*>(QStringLiteral("inspectorDock"));
  auto* matrix = m_window.findChild<QDockWidget*>(QStringLiteral("matrixDock"));
  // Tabified straight away (not added beside first): the window's dock sizes stay as set.
  for (QDockWidget* dock : {m_galleryDock, m_filterPcaDock, m_positionDock}) {
    if (inspector) {
      m_window.tabifyDockWidget(inspector, dock);
    } else {
      m_window.addDockWidget(Qt::RightDockWidgetArea, dock);
    }
  }
  if (matrix) {
    m_window.tabifyDockWidget(matrix, m_reconstructionDock);
  } else {
    m_window.addDockWidget(Qt::BottomDockWidgetArea, m_reconstructionDock);
  }
  if (inspector) inspector->raise();
  if (matrix) matrix->raise();
  // The dock sizes are set when the window is first shown (MainWindow::fitDocksToWindow),
  // for the size it has then.
}

void AnalysisViews::createActions(QMenu* fileMenu, QMenu* viewMenu) {
  // Before Quit: File ends with a separator and Quit.
  const QList<QAction*> fileActions = fileMenu->actions();
  QAction* before = fileActions.size() >= 2 ? fileActions[fileActions.size() - 2] : nullptr;
  m_exportAction = new QAction(tr("&Export Figure…"), this);
  m_exportAction->setShortcut(QKeySequence(tr("Ctrl+E")));
  m_exportAction->setStatusTip(tr("Save the current view as PNG, SVG or PDF"));
  connect(m_exportAction, &QAction::triggered, this, &AnalysisViews::openExportDialog);
  fileMenu->insertAction(before, m_exportAction);

  m_dataMenu = new QMenu(tr("Export &Data"), fileMenu);
  m_dataMenu->setObjectName(QStringLiteral("exportDataMenu"));
  const std::pair<DataExport::Type, QString> entries[] = {
      {DataExport::Type::Embedding, tr("&Embedding [N × D]…")},
      {DataExport::Type::Token, tr("Selected &Token [D]…")},
      {DataExport::Type::Channel, tr("Current &Channel Map [rows × cols]…")},
      {DataExport::Type::Filters, tr("&Filters [D × C × P × P]…")},
      {DataExport::Type::Tokens, tr("Tokens of the &Layer on Screen [T × D]…")},
      {DataExport::Type::Attention, tr("&Attention of the Block on Screen [H × T × T]…")},
      {DataExport::Type::AttentionMask,
       tr("Attention &Masks of the Block on Screen, DINO's (.npz: attentions, th_attn)…")},
  };
  m_dataMenu->setToolTipsVisible(true);  // the transformer entries say why they are disabled
  for (const auto& [type, text] : entries) {
    QAction* act = m_dataMenu->addAction(
        text, this, [this, type = type] { exportDataInteractively(static_cast<int>(type)); });
    if (type == DataExport::Type::Token) m_tokenDataAction = act;
    if (type == DataExport::Type::Tokens) m_tokensDataAction = act;
    if (type == DataExport::Type::Attention) m_attentionDataAction = act;
    if (type == DataExport::Type::AttentionMask) m_maskDataAction = act;
  }
  fileMenu->insertMenu(before, m_dataMenu);
  fileMenu->insertSeparator(before);

  viewMenu->addSeparator();
  for (QDockWidget* dock : {m_galleryDock, m_filterPcaDock, m_positionDock, m_reconstructionDock}) {
    viewMenu->addAction(makeDockAction(dock));
  }
}

void AnalysisViews::updateActions() {
  const bool has = m_session.hasResult();
  m_exportAction->setEnabled(has);
  m_dataMenu->setEnabled(has);
  m_tokenDataAction->setEnabled(has && m_session.selection().has_value());
  const bool transformer = m_session.hasTransformer();
  const QString why = transformer ? QString() : m_session.noTransformerReason();
  for (QAction* act : {m_tokensDataAction, m_attentionDataAction, m_maskDataAction}) {
    act->setEnabled(has && transformer);
    act->setToolTip(why.isEmpty() ? act->text().remove(QLatin1Char('&')) : why);
  }
}

bool AnalysisViews::raiseDock(const QString& name) {
  const std::pair<const char*, QDockWidget*> docks[] = {{"filters", m_galleryDock},
                                                        {"filter-pca", m_filterPcaDock},
                                                        {"posembed", m_positionDock},
                                                        {"reconstruction", m_reconstructionDock}};
  for (const auto& [key, dock] : docks) {
    if (name != QLatin1String(key)) continue;
    dock->show();
    dock->raise();
    // The reconstruction is three panels side by side: give it room when asked for.
    if (dock == m_reconstructionDock)
      m_window.resizeDocks({dock}, {m_window.height() / 2}, Qt::Vertical);
    if (dock != m_reconstructionDock)
      m_window.resizeDocks({dock}, {m_window.width() / 3}, Qt::Horizontal);
    return true;
  }
  return false;
}

bool AnalysisViews::isDockName(const QString& name) {
  return name == QLatin1String("filters") || name == QLatin1String("filter-pca") ||
         name == QLatin1String("posembed") || name == QLatin1String("reconstruction");
}

bool AnalysisViews::waitUntilIdle(int timeoutMs) const {
  QElapsedTimer timer;
  timer.start();
  while ((m_cache->isComputing() || m_reconstruction->isBusy()) && timer.elapsed() < timeoutMs) {
    waitForEvents(50);
  }
  QCoreApplication::processEvents();
  return !m_cache->isComputing() && !m_reconstruction->isBusy();
}

void AnalysisViews::openExportDialog() {
  if (!m_session.hasResult()) return;
  auto* dialog = new ExportDialog(&m_session, &m_window);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->setReconstructionComponents(m_reconstruction->components());
  dialog->open();
}

QString AnalysisViews::currentDataName(int typeValue) const {
  const auto& result = m_session.result();
  if (!result) return {};
  switch (static_cast<DataExport::Type>(typeValue)) {
    case DataExport::Type::Embedding:
      return QStringLiteral("embedding");
    case DataExport::Type::Token: {
      const auto sel = m_session.selection();
      return sel ? QStringLiteral("token:%1,%2").arg(sel->row).arg(sel->col) : QString();
    }
    case DataExport::Type::Channel:
      return QStringLiteral("channel:%1").arg(m_session.channel());
    case DataExport::Type::Filters:
      return QStringLiteral("filters");
    case DataExport::Type::Tokens: {
      if (!result->trace) return {};
      // The session's layer index named like `patchlens-cli export --data tokens:L`.
      const int layer = result->layerIndex;
      if (layer == 0) return QStringLiteral("tokens:patch");
      if (layer == result->trace->layerCount() - 1) return QStringLiteral("tokens:final");
      return QStringLiteral("tokens:%1").arg(layer - 1);
    }
    case DataExport::Type::Attention:
      return result->trace ? QStringLiteral("attention:%1").arg(m_session.currentBlock())
                           : QString();
    case DataExport::Type::AttentionMask: {
      if (!result->trace) return {};
      DataExport mask{DataExport::Type::AttentionMask, m_session.currentBlock(), 0};
      mask.threshold = m_session.attentionMass().value_or(PlotKind::kDefaultMassThreshold);
      return QString::fromStdString(mask.name());
    }
  }
  return {};
}

QStringList AnalysisViews::dataCommandArguments(const DataExport& what, const QString& path) const {
  const auto& result = m_session.result();
  if (!result || !result->trace || !what.needsTransformer()) return {};
  // The name holds the layer or block (tokens:5, attention-mask:6:0.60): no --layer.
  QStringList args{QStringLiteral("export"), result->imagePath, QStringLiteral("--weights"),
                   QString::fromStdString(m_session.config().weights.source)};
  if (m_session.headsOverride() > 0)
    args << QStringLiteral("--heads") << QString::number(m_session.headsOverride());
  args << QStringLiteral("--data") << QString::fromStdString(what.name()) << QStringLiteral("-o")
       << QDir::toNativeSeparators(path);
  return args;
}

QString AnalysisViews::writeData(const DataExport& what, const QString& path) const {
  const auto& result = m_session.result();
  if (!result || !result->weights) return tr("There is no embedding to export yet.");
  try {
    if (what.needsTransformer()) {
      if (!result->trace) {
        return tr("%1: %2 needs a transformer (%3)")
            .arg(QDir::toNativeSeparators(path), QString::fromStdString(what.name()),
                 m_session.noTransformerReason());
      }
      what.writeTransformer(QDir::toNativeSeparators(path).toStdString(), *result->trace);
      return {};
    }
    // The patch embedding's own numbers (filters) come from layer 0, the tokens from the
    // layer on screen.
    what.write(QDir::toNativeSeparators(path).toStdString(), result->embedding, *result->weights);
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  return {};
}

void AnalysisViews::exportDataInteractively(int typeValue) {
  const QString name = currentDataName(typeValue);
  if (name.isEmpty()) return;
  DataExport what;
  try {
    what = DataExport::parse(name.toStdString());
  } catch (const std::exception&) {
    return;
  }
  QString stem = name;
  stem.replace(QLatin1Char(':'), QLatin1Char('_')).replace(QLatin1Char(','), QLatin1Char('_'));
  // Token rows of a deeper layer say which layer they are from ("token_7_7_layer6.npy").
  if (const auto& result = m_session.result(); result && result->trace && result->layerIndex > 0 &&
                                               !what.needsTransformer() &&
                                               what.type != DataExport::Type::Filters)
    stem += QStringLiteral("_layer") +
            QString::fromStdString(layerSpec(result->trace.get(), result->layerIndex));
  const QString npy = tr("NumPy array (*.npy)");
  const QString csv = tr("CSV table (*.csv)");
  const QString npz = tr("NumPy archive (*.npz)");
  // DINO's masks are two arrays (attentions, th_attn): one .npz, as the CLI writes them.
  const bool archive = what.type == DataExport::Type::AttentionMask;
  QString selected = archive ? npz : npy;
  QString path = QFileDialog::getSaveFileName(
      &m_window, tr("Export Data"),
      QDir(m_lastDirectory)
          .filePath(stem + (archive ? QStringLiteral(".npz") : QStringLiteral(".npy"))),
      archive ? npz : npy + QStringLiteral(";;") + csv, &selected);
  if (path.isEmpty()) return;
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (archive && suffix != QLatin1String("npz")) {
    path += QStringLiteral(".npz");
  } else if (!archive && suffix != QLatin1String("npy") && suffix != QLatin1String("csv")) {
    path += selected == csv ? QStringLiteral(".csv") : QStringLiteral(".npy");
  }
  m_lastDirectory = QFileInfo(path).absolutePath();
  if (const QString error = writeData(what, path); !error.isEmpty()) {
    QMessageBox::warning(&m_window, tr("Export Data"), tr("Could not export: %1").arg(error));
    return;
  }
  m_lastDataMessage = tr("Saved %1").arg(QDir::toNativeSeparators(path));
  if (const QStringList args = dataCommandArguments(what, path); !args.isEmpty())
    m_lastDataMessage += tr(" · the same from the CLI: %1").arg(ExportDialog::commandLineOf(args));
  m_window.statusBar()->showMessage(m_lastDataMessage, 15000);
}

}  // namespace patchlens
