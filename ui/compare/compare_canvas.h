#pragma once

#include <QWidget>
#include <memory>
#include <optional>

#include "ui/compare/compare_data.h"

namespace patchlens {

// Image A and image B side by side, each with its patch grid, and one of three overlays:
// the similarity of the patch under the mouse (A -> B or B -> A) with its best match marked,
// the K best mutual nearest neighbours as lines coloured by similarity, or the joint PCA.
// Paints only: everything it shows was computed off the GUI thread (CompareLayer).
class CompareCanvas : public QWidget {
  Q_OBJECT

 public:
  enum class Mode { Similarity, Matches, JointPca };
  struct Probe {
    bool inB = false;  // the probed patch is one of B's (B -> A)
    int token = 0;
  };

  explicit CompareCanvas(QWidget* parent = nullptr);

  void setSides(std::shared_ptr<const std::pair<CompareSide, CompareSide>> sides);
  void setLayerResult(std::shared_ptr<const CompareLayer> layer);
  void setMode(Mode mode);
  void setMatchCount(int k);
  // The probed patch; a click pins it (hovering then leaves it), another click frees it.
  void setProbe(std::optional<Probe> probe, bool pinned = false);
  std::optional<Probe> probe() const { return m_probe; }
  // The best match of the probe in the other image (first maximum), -1 without one.
  int bestMatch() const;

  QSize sizeHint() const override { return {1200, 560}; }

 signals:
  void probeChanged();

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  // Where each image is drawn (widget pixels), keeping its aspect ratio.
  QRectF imageRect(bool b) const;
  QPointF patchCentre(bool b, int token) const;
  QRectF patchRect(bool b, int token) const;
  std::optional<Probe> probeAt(QPointF pos) const;
  const CompareSide& side(bool b) const { return b ? m_sides->second : m_sides->first; }

  std::shared_ptr<const std::pair<CompareSide, CompareSide>> m_sides;
  std::shared_ptr<const CompareLayer> m_layer;
  Mode m_mode = Mode::Similarity;
  int m_matchCount = 50;
  std::optional<Probe> m_probe;
  bool m_pinned = false;
};

}  // namespace patchlens
