#pragma once

#include <QMainWindow>
#include <QStringList>

class QAction;
class QActionGroup;
class QDockWidget;
class QFrame;
class QLabel;
class QMenu;
class QProgressBar;
class QScreen;
class QTabBar;

namespace patchlens {

class ChannelPanel;
class ColorbarWidget;
class EmbeddingMatrixView;
class ImageView;
class ModelPanel;
class OverlayToolBar;
class PatchInspector;
class Session;
struct OverlayMap;

// The PatchLens main window: the image view in the middle, docks for the inspector,
// channel, model/preprocessing and embedding matrix, menus, drag and drop, settings.
class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  // Ephemeral windows (screenshots, measurements) neither read nor write QSettings.
  enum class SettingsMode { Persistent, Ephemeral };

  explicit MainWindow(QWidget* parent = nullptr,
                      SettingsMode settingsMode = SettingsMode::Persistent);
  ~MainWindow() override;

  Session* session() const { return m_session; }
  ImageView* imageView() const { return m_imageView; }
  PatchInspector* inspector() const { return m_inspector; }
  ChannelPanel* channelPanel() const { return m_channelPanel; }
  EmbeddingMatrixView* matrixView() const { return m_matrixView; }
  ColorbarWidget* colorbar() const { return m_colorbar; }
  // The error the window shows, empty when none.
  QString errorText() const;
  QStringList recentFiles() const { return m_recentFiles; }

  // Opens an image or (judged by its content) a weight file.
  void openPath(const QString& path);
  void openImage(const QString& path);
  // checkOnSample: see Session::openWeights.
  void openWeights(const QString& path, bool checkOnSample = true);
  // Shows the image view or a dock in front of its tab group ("inspector", "channel",
  // "model", "matrix").
  void raiseDock(const QString& name);

  void readSettings();
  void writeSettings() const;
  // Help > Keyboard Shortcuts: a table built from every menu action's shortcut.
  QString shortcutsHtml() const;

  // The first-start size: the designed 1500 × 950, shrunk to the screen's available area.
  static QSize defaultSize(const QScreen* screen);
  // Gives the side and bottom docks widths and heights proportional to the window (the
  // designed widths on a large window, less on a laptop, never below their minimum).
  void fitDocksToWindow();
  // Puts a side's dock tabs along its outer edge when their titles would not fit on top.
  void updateTabPositions();
  void fitTabTitles(QTabBar& bar);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void showEvent(QShowEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  bool eventFilter(QObject* watched, QEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void createActions();
  void createDocks();
  void open();
  void openWeightsDialog();
  void openAdjacent(int step);
  void about();
  void showShortcuts();
  void stepChannel(int step);
  void showError(const QString& message);
  void clearError();
  void setBannerColour(bool warning);
  void placeErrorBanner();
  void onResultChanged();
  void updateOverlayChrome();
  // The argmax overlay's categorical legend: the channels that win most often, with colours.
  QString argmaxLegend(const OverlayMap& map) const;
  void updateStatus();
  void addRecentFile(const QString& path);
  void updateRecentMenu();
  QDockWidget* addDock(QWidget* content, const QString& title, const QString& objectName,
                       Qt::DockWidgetArea area);

  Session* m_session;
  ImageView* m_imageView;
  ColorbarWidget* m_colorbar;
  QLabel* m_overlayCaption;
  QFrame* m_errorFrame;
  QLabel* m_errorBanner;
  PatchInspector* m_inspector = nullptr;
  ChannelPanel* m_channelPanel = nullptr;
  ModelPanel* m_modelPanel = nullptr;
  EmbeddingMatrixView* m_matrixView = nullptr;
  OverlayToolBar* m_overlayToolBar = nullptr;
  QDockWidget* m_inspectorDock = nullptr;
  QDockWidget* m_channelDock = nullptr;
  QDockWidget* m_modelDock = nullptr;
  QDockWidget* m_matrixDock = nullptr;
  QLabel* m_statusLabel = nullptr;
  QProgressBar* m_progress;
  QMenu* m_recentMenu = nullptr;
  QMenu* m_viewMenu = nullptr;
  QAction* m_gridAction = nullptr;
  QAction* m_originalAction = nullptr;
  QActionGroup* m_overlayGroup = nullptr;
  QStringList m_recentFiles;
  QString m_lastDirectory;
  SettingsMode m_settingsMode;
  bool m_docksFitted = false;  // the first show sized the docks (a restored state keeps its own)
};

}  // namespace patchlens
