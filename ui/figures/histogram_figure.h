#pragma once

#include <QCoreApplication>

#include "core/analysis/channel_statistics.h"
#include "core/analysis/embedding_analysis.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"

namespace patchlens {

// The distribution of every value of the embedding: bars coloured as the maps colour
// those values, with the summary statistics.
class HistogramFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(HistogramFigure)

 public:
  HistogramFigure(Histogram histogram, VectorStats stats, int rows, int cols, ColormapId colormap,
                  ValueRange colorRange);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {620, 400}; }
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  Histogram m_histogram;
  VectorStats m_stats;
  int m_rows;
  int m_cols;
  ColormapId m_colormap;
  ValueRange m_colorRange;
};

}  // namespace patchlens
