#pragma once

#include <QObject>
#include <QString>

class QAction;
class QDockWidget;
class QMainWindow;
class QMenu;

namespace patchlens {

class AnalysisCache;
class FilterGalleryView;
class FilterPcaPanel;
class PositionSimilarityPanel;
class ReconstructionPanel;
class Session;
struct DataExport;

// The analysis views of the main window and their menu entries, wired in one place: docks
// for the filter gallery, filter PCA, position-embedding similarity and reconstruction;
// File > Export… (Ctrl+E) and File > Export Data ▸ (NPY / CSV); View menu toggles.
class AnalysisViews : public QObject {
  Q_OBJECT

 public:
  // Adds the docks to `window` and the entries to its menus (before the menu's last
  // separator in `fileMenu`, at the end of `viewMenu`). Owned by `window`.
  AnalysisViews(QMainWindow& window, Session& session, QMenu* fileMenu, QMenu* viewMenu);

  // The instance installed in `window`, if any.
  static AnalysisViews* of(const QMainWindow& window);

  // Raises the dock a --dock NAME names: "filters", "filter-pca", "posembed",
  // "reconstruction". False for other names.
  bool raiseDock(const QString& name);
  static bool isDockName(const QString& name);
  // Processes events until the analyses and the reconstruction on screen are computed (for
  // screenshots); false on timeout.
  bool waitUntilIdle(int timeoutMs = 120000) const;

  // File > Export…: the export dialog for the current view and selection.
  void openExportDialog();
  // Writes one data export of the current result to `path` (.npy / .csv); returns the error
  // message, empty on success. Nothing is left behind on failure.
  QString writeData(const DataExport& what, const QString& path) const;
  // The data export File > Export Data ▸ `type` (a DataExport::Type) writes for what is on
  // screen, named as `patchlens-cli export --data` names it ("token:3,4", "tokens:5",
  // "attention:6"); empty when there is none (no selection, no transformer).
  QString currentDataName(int type) const;
  // The patchlens-cli call that writes the same file as writeData(what, path) for the
  // transformer's data (tokens:L, attention:L, attention-mask:L[:T]), without the program
  // name; empty for the others. File > Export Data shows it after saving.
  QStringList dataCommandArguments(const DataExport& what, const QString& path) const;
  // The status-bar line of the last File > Export Data ("Saved … · the same from the CLI: …").
  QString lastDataMessage() const { return m_lastDataMessage; }

  AnalysisCache* cache() const { return m_cache; }
  FilterGalleryView* filterGallery() const { return m_gallery; }
  FilterPcaPanel* filterPcaPanel() const { return m_filterPca; }
  PositionSimilarityPanel* positionPanel() const { return m_position; }
  ReconstructionPanel* reconstructionPanel() const { return m_reconstruction; }
  QAction* exportAction() const { return m_exportAction; }

 private:
  void createDocks();
  void createActions(QMenu* fileMenu, QMenu* viewMenu);
  void exportDataInteractively(int type);
  void updateActions();
  QDockWidget* addDock(QWidget* content, const QString& title, const QString& objectName);

  QMainWindow& m_window;
  Session& m_session;
  QString m_lastDataMessage;
  AnalysisCache* m_cache;
  FilterGalleryView* m_gallery = nullptr;
  FilterPcaPanel* m_filterPca = nullptr;
  PositionSimilarityPanel* m_position = nullptr;
  ReconstructionPanel* m_reconstruction = nullptr;
  QDockWidget* m_galleryDock = nullptr;
  QDockWidget* m_filterPcaDock = nullptr;
  QDockWidget* m_positionDock = nullptr;
  QDockWidget* m_reconstructionDock = nullptr;
  QAction* m_exportAction = nullptr;
  QAction* m_tokenDataAction = nullptr;
  QAction* m_tokensDataAction = nullptr;     // tokens:L of the layer on screen
  QAction* m_attentionDataAction = nullptr;  // attention:L of the block on screen
  QAction* m_maskDataAction = nullptr;       // attention-mask:L:T of the block on screen
  QMenu* m_dataMenu = nullptr;
  QString m_lastDirectory;
};

}  // namespace patchlens
