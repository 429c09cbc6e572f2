#pragma once

#include <QWidget>
#include <memory>
#include <optional>

#include "ui/base/colormap.h"
#include "ui/compare/compare_data.h"

namespace patchlens {

// Two sides of a comparison, each with its patch grid and a title, and one overlay. Two
// images through one model: the similarity of the patch under the mouse (A -> B or B -> A)
// with its best match marked, the K best mutual nearest neighbours as lines coloured by
// similarity, or the joint PCA. One image through two models: each side's PCA, the attention
// of its block (one head or the mean) from the selected patch, or the selected patch's
// similarity. Linked: a patch picked on either side is marked on both (its best match in the
// other image; the patch at the same place of the other model's input), one colormap for
// both. Paints only: everything it shows was computed off the GUI thread.
class CompareCanvas : public QWidget {
  Q_OBJECT

 public:
  enum class Mode { Similarity, Matches, JointPca, ModelPca, ModelAttention, ModelSimilarity };
  struct Probe {
    bool inB = false;  // the probed patch is one of B's
    int token = 0;
  };

  explicit CompareCanvas(QWidget* parent = nullptr);

  void setSides(std::shared_ptr<const std::pair<CompareSide, CompareSide>> sides);
  void setLayerResult(std::shared_ptr<const CompareLayer> layer);
  void setModelsLayer(std::shared_ptr<const ModelsLayer> layer);
  void setMode(Mode mode);
  Mode mode() const { return m_mode; }
  void setMatchCount(int k);
  void setColormap(ColormapId colormap);
  ColormapId colormap() const { return m_colormap; }
  void setHead(int head);  // -1: the mean over heads
  void setCaptions(const QString& a, const QString& b);
  QString caption(bool b) const { return b ? m_captionB : m_captionA; }
  // The probed patch; a click pins it (hovering then leaves it), another click frees it.
  void setProbe(std::optional<Probe> probe, bool pinned = false);
  std::optional<Probe> probe() const { return m_probe; }
  // The best match of the probe in the other image (first maximum), -1 without one.
  int bestMatch() const;
  // The patch marked on side `b`: the probe on its own side; on the other, its best match
  // (two images) or the patch at the same place of the model input (two models). -1: none.
  int selectedToken(bool b) const;
  // The values drawn over side `b` now (a similarity or attention map over its patches);
  // empty when that side shows none.
  VectorF shownMap(bool b) const;
  // The token whose attention side `b` shows: the selected patch, else the class token (the
  // first prefix token), else the centre patch.
  int attentionQuery(bool b) const;
  // The block whose attention side `b` shows (0 without a transformer).
  int attentionBlock(bool b) const;

  QSize sizeHint() const override { return {1200, 560}; }

 signals:
  void probeChanged();

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void leaveEvent(QEvent* event) override;

 private:
  bool twoModels() const { return m_mode >= Mode::ModelPca; }
  // Where each image is drawn (widget pixels), keeping its aspect ratio.
  QRectF imageRect(bool b) const;
  QRectF cellsRect(bool b) const;  // the part of it the patch grid covers
  QPointF patchCentre(bool b, int token) const;
  QRectF patchRect(bool b, int token) const;
  std::optional<Probe> probeAt(QPointF pos) const;
  // The patch of `to` at the same relative place of its model input as `token` of the other.
  int samePlace(bool to, int token) const;
  const CompareSide& side(bool b) const { return b ? m_sides->second : m_sides->first; }
  void paintOverlays(QPainter& painter) const;
  void paintMatches(QPainter& painter) const;
  void paintSelection(QPainter& painter) const;

  std::shared_ptr<const std::pair<CompareSide, CompareSide>> m_sides;
  std::shared_ptr<const CompareLayer> m_layer;
  std::shared_ptr<const ModelsLayer> m_models;
  Mode m_mode = Mode::Similarity;
  int m_matchCount = 50;
  ColormapId m_colormap = ColormapId::Viridis;
  int m_head = -1;
  QString m_captionA, m_captionB;
  std::optional<Probe> m_probe;
  bool m_pinned = false;
};

}  // namespace patchlens
