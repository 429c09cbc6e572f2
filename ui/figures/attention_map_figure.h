#pragma once

#include <QCoreApplication>
#include <QImage>

#include "core/model/eigen_types.h"
#include "core/model/patch_embedding.h"
#include "ui/base/color_scale.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"

namespace patchlens {

// One attention map over the patch grid beside the image: what a query token attends to at
// one layer (one head or the mean over heads), or the attention rollout. The query patch is
// marked; a prefix-token query (cls, ...) is named in the subtitle.
class AttentionMapFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(AttentionMapFigure)

 public:
  struct Query {
    QString name;  // "cls", "patch (3, 7)"
    QString role;  // how the subtitle names it; empty: "query" (Grad-CAM: "target")
    int row = -1;  // the query patch, -1 for a prefix token
    int col = -1;
  };
  // `scale`: the colour scale the screen uses for this map (ColorScale, written on the
  // colorbar).
  AttentionMapFigure(QString title, QString valueLabel, QImage input, VectorF values, GridSize grid,
                     int patchSize, Query query, ColormapId colormap, ColorScale scale);
  const ColorScale& colorScale() const { return m_scale; }
  ColormapId colormap() const { return m_colormap; }

  QString ownTitle() const override { return m_title; }
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QString m_title;
  QString m_valueLabel;
  QImage m_input;
  VectorF m_values;
  GridSize m_grid;
  int m_patchSize;
  Query m_query;
  ColormapId m_colormap;
  ColorScale m_scale;
};

}  // namespace patchlens
