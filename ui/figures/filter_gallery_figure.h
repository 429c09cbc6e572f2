#pragma once

#include <QCoreApplication>
#include <QImage>
#include <vector>

#include "core/analysis/embedding_analysis.h"
#include "core/weights/patch_weights.h"
#include "ui/figures/figure.h"

namespace patchlens {

// Every filter of the layer (all D rows of the weight) as a P x P colour tile, the way
// the ViT paper shows the learned embedding filters.
class FilterGalleryFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(FilterGalleryFigure)

 public:
  explicit FilterGalleryFigure(const PatchWeights& weights);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {720, 600}; }
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QImage m_mosaic;
  TileShape m_shape;
  int m_filters = 0;
  int m_patchSize = 0;
  int m_inChannels = 0;
  QString m_description;
};

}  // namespace patchlens
