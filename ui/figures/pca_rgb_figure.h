#pragma once

#include <QCoreApplication>
#include <QImage>
#include <array>

#include "core/analysis/embedding_analysis.h"
#include "core/model/patch_embedding.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_layout.h"

namespace patchlens {

// The tokens' first three principal components as red, green and blue over the patch grid
// (as the DINO papers show features), beside the image.
class PcaRgbFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(PcaRgbFigure)

 public:
  // `rows` names what the PCA ran on ("tokens", or a block's "keys", "queries", "values").
  PcaRgbFigure(QImage input, const PcaResult& pca, GridSize grid, int patchSize,
               QString rows = QStringLiteral("tokens"));

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;
  // Where the input (plots[0]), the PCA map (plots[1]) and the legend go in `area`: side by
  // side, or one above the other when that gives larger panels (a tall narrow dock).
  PanelLayout layout(const QRectF& area) const;

 private:
  QString subtitle() const;

  QImage m_input;
  QImage m_rgb;  // cols x rows
  GridSize m_grid;
  int m_patchSize;
  QString m_rows;
  int m_components = 0;
  std::array<double, 3> m_ratio{};      // explained variance ratio of PC1..3
  std::array<ValueRange, 3> m_range{};  // projection range mapped to 0..255 of each colour
};

}  // namespace patchlens
