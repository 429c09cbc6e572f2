#pragma once

#include <QObject>
#include <QString>

class QDockWidget;
class QMainWindow;
class QMenu;

namespace patchlens {

class AttentionPanel;
class DepthFigurePanel;
class ForegroundPcaPanel;
class Session;

// The transformer's views (issue 12), wired in one place so that the main window needs one
// line: docks for the attention heads, the attention distance, the token norms across depth
// and the DINOv2-style PCA, with their View menu toggles.
class TransformerViews : public QObject {
  Q_OBJECT

 public:
  TransformerViews(QMainWindow& window, Session& session, QMenu* viewMenu);

  static TransformerViews* of(const QMainWindow& window);
  // "attention", "attention-distance", "token-norms", "foreground-pca"; false for others.
  bool raiseDock(const QString& name);
  static bool isDockName(const QString& name);
  // View ▸ Transformer Layout: the attention dock on the left, above the attention distance,
  // token norms and DINOv2 PCA as three tabs; the right column keeps the inspector and the
  // patch-embedding docks. Sized for a 1366 x 768 screen.
  void applyTransformerLayout();

  AttentionPanel* attentionPanel() const { return m_attention; }
  DepthFigurePanel* distancePanel() const { return m_distance; }
  DepthFigurePanel* normsPanel() const { return m_norms; }
  ForegroundPcaPanel* pcaPanel() const { return m_pca; }

 private:
  QDockWidget* addDock(QWidget* content, const QString& title, const QString& objectName);

  QMainWindow& m_window;
  AttentionPanel* m_attention;
  DepthFigurePanel* m_distance;
  DepthFigurePanel* m_norms;
  ForegroundPcaPanel* m_pca;
  QDockWidget* m_attentionDock = nullptr;
  QDockWidget* m_distanceDock = nullptr;
  QDockWidget* m_normsDock = nullptr;
  QDockWidget* m_pcaDock = nullptr;
  bool m_docksShown = false;  // shown once, with the first transformer
};

}  // namespace patchlens
