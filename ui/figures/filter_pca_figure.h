#pragma once

#include <QCoreApplication>
#include <QImage>
#include <vector>

#include "core/analysis/filter_analysis.h"
#include "ui/figures/figure.h"

namespace patchlens {

// The principal components of the filters as colour tiles (the ViT paper's Fig. 7, left),
// each with the share of the filters' variance it explains.
class FilterPcaFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(FilterPcaFigure)

 public:
  explicit FilterPcaFigure(const FilterPca& pca, int filters);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {640, 460}; }
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  std::vector<QImage> m_tiles;
  std::vector<double> m_ratios;  // explained variance ratio of each component
  int m_filters = 0;
  int m_patchSize = 0;
};

}  // namespace patchlens
