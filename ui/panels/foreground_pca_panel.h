#pragma once

#include <QWidget>

class QCheckBox;
class QLabel;
class QSlider;

namespace patchlens {

class FigureWidget;
class Session;

// DINOv2-style PCA at the current layer (issue 12): the plain PCA → RGB of the tokens, or
// with the foreground step (threshold on the scaled first component, direction flippable,
// second PCA of the foreground tokens, background black). Computed on a worker thread; the
// figure is the one `export --plot pca [--foreground T]` draws.
class ForegroundPcaPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ForegroundPcaPanel(Session* session, QWidget* parent = nullptr);

  QCheckBox* foregroundBox() const { return m_enabled; }
  QSlider* thresholdSlider() const { return m_threshold; }
  QCheckBox* flipBox() const { return m_flip; }
  FigureWidget* figureWidget() const { return m_figure; }
  bool isComputing() const { return m_pending > 0; }

 private:
  void rebuild();

  Session* m_session;
  QCheckBox* m_enabled;
  QSlider* m_threshold;
  QLabel* m_thresholdLabel;
  QCheckBox* m_flip;
  FigureWidget* m_figure;
  quint64 m_generation = 0;
  int m_pending = 0;
};

}  // namespace patchlens
