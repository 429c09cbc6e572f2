#pragma once

#include <QCoreApplication>
#include <optional>
#include <vector>

#include "core/model/eigen_types.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_layout.h"

namespace patchlens {

// Mean attention distance against depth (ViT paper, Fig. 7 right): one dot per head and
// block, in input pixels; the selected block and head are marked. The figure dock maps
// clicks back to a block and head with hit().
class AttentionDistanceFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(AttentionDistanceFigure)

 public:
  // distances [depth x heads]; selectedBlock 1..depth (0: none), selectedHead (-1: none).
  AttentionDistanceFigure(RowMatrixF distances, int patchSize, int gridRows, int gridCols,
                          int selectedBlock, int selectedHead);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {620, 400}; }
  void paint(QPainter& painter, const QRectF& area) const override;

  struct Hit {
    int block = 0;  // 1..depth
    int head = 0;
    bool operator==(const Hit&) const = default;
  };
  // Where everything goes in `area`, computed in one place: paint() draws from it and the
  // dock's mouse handler hit-tests with it.
  struct Layout {
    PanelSpec panel;
    QRectF plot;
    std::vector<QPointF> dots;  // block-major: dots[(b - 1) * heads + h], in drawing order
    qreal dotRadius = 0;
  };
  Layout layout(const QRectF& area) const;
  // The dot under `point`: the topmost drawn dot that covers it, else the nearest dot within
  // a few points; nullopt when none is near.
  std::optional<Hit> hit(const Layout& layout, const QPointF& point) const;
  std::optional<Hit> hit(const QRectF& area, const QPointF& point) const {
    return hit(layout(area), point);
  }
  static constexpr qreal kDotRadius = 2.6;
  static constexpr qreal kHitRadius = 7.0;

 private:
  // `longest`: the line of the longest possible selection in place of the actual one (the
  // layout reserves its room, so that selecting a dot never moves the dots).
  QString subtitle(bool longest = false) const;

  RowMatrixF m_distances;
  int m_patchSize;
  int m_gridRows;
  int m_gridCols;
  int m_selectedBlock;
  int m_selectedHead;
};

}  // namespace patchlens
