#pragma once

#include <QCoreApplication>
#include <optional>
#include <string>
#include <vector>

#include "core/model/eigen_types.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_layout.h"

namespace patchlens {

// Every token's L2 norm at every layer as a heatmap (rows: tokens, prefix tokens first;
// columns: patch embedding, input to block 1, blocks 1..L, final norm), the view in which the
// high-norm artifact tokens of Darcet et al. 2024 stand out. Cells without a value (prefix
// tokens at the patch embedding) are grey.
class TokenNormsFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(TokenNormsFigure)

 public:
  // norms [T x layers], from tokenNormsAcrossDepth; selectedLayer is outlined (-1: none).
  TokenNormsFigure(RowMatrixF norms, std::vector<std::string> prefixNames, int selectedLayer,
                   ColormapId colormap);

  QString ownTitle() const override;
  QSizeF preferredSize() const override { return {620, 560}; }
  void paint(QPainter& painter, const QRectF& area) const override;
  // The layer column under `point` when painted into `area` (nullopt outside the cells).
  std::optional<int> layerAt(const QRectF& area, const QPointF& point) const;

 private:
  struct Layout {
    QString subtitle;
    PanelSpec panel;
    ColorbarSpec colorbar;
    QRectF plot;
    QRectF colorbarRect;
  };
  Layout layout(const QRectF& area) const;

  RowMatrixF m_norms;
  std::vector<std::string> m_prefixNames;
  int m_selectedLayer;
  ColormapId m_colormap;
};

}  // namespace patchlens
