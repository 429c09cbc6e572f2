#pragma once

#include <QObject>
#include <QString>

class QAction;
class QDockWidget;
class QMainWindow;
class QMenu;

namespace patchlens {

class PredictionPanel;
class Session;

// Issue 22 wired in one place: the Prediction dock, the Grad-CAM (Alt+9) and Relevance
// (Ctrl+Shift+R) overlays in the Overlay menu (disabled, with the reason as tooltip, for a model
// whose backward is refused or that has no transformer), and their View menu entry.
class ExplainViews : public QObject {
  Q_OBJECT

 public:
  ExplainViews(QMainWindow& window, Session& session, QMenu* viewMenu, QMenu* overlayMenu);

  static ExplainViews* of(const QMainWindow& window);
  static bool isDockName(const QString& name) { return name == QLatin1String("prediction"); }
  bool raiseDock(const QString& name);

  PredictionPanel* panel() const { return m_panel; }
  QAction* gradCamAction() const { return m_gradCam; }
  QAction* relevanceAction() const { return m_relevance; }

 private:
  void updateActions();

  Session& m_session;
  PredictionPanel* m_panel;
  QDockWidget* m_dock;
  bool m_dockShown = false;
  QAction* m_gradCam = nullptr;
  QAction* m_relevance = nullptr;
};

}  // namespace patchlens
