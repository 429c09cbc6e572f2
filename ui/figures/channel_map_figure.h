#pragma once

#include <QCoreApplication>
#include <QImage>

#include "core/analysis/embedding_analysis.h"
#include "core/model/patch_embedding.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"

namespace patchlens {

// One channel of the embedding as a map over the image: each patch tinted with the value
// that channel takes at its token.
class ChannelMapFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(ChannelMapFigure)

 public:
  ChannelMapFigure(QImage input, VectorF map, GridSize grid, int patchSize, int channel,
                   ColormapId colormap, ValueRange range, double opacity = 0.7);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QImage m_input;
  VectorF m_map;
  GridSize m_grid;
  int m_patchSize;
  int m_channel;
  ColormapId m_colormap;
  ValueRange m_range;
  double m_opacity;  // of the map over the image
};

}  // namespace patchlens
