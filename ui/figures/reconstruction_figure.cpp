#include "ui/figures/reconstruction_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

ReconstructionFigure::ReconstructionFigure(QImage input, const PatchReconstruction& reconstruction,
                                           int embedDim, ColormapId colormap)
    : m_input(std::move(input)),
      m_output(toQImage(reconstruction.rgb)),
      m_patchError(reconstruction.patchError),
      m_grid(reconstruction.grid),
      m_patchSize(reconstruction.patchSize),
      m_components(reconstruction.components),
      m_rank(reconstruction.rank),
      m_embedDim(embedDim),
      m_relativeError(reconstruction.relativeError),
      m_colormap(colormap) {}

// As tall as the panels need for the image's aspect ratio (landscape inputs get a lower figure).
QSizeF ReconstructionFigure::preferredSize() const {
  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  return {960, 105 + 235 * std::clamp(extentY / std::max(extentX, 1.0), 0.25, 2.0)};
}

QString ReconstructionFigure::ownTitle() const {
  if (m_components > 0)
    return tr("Reconstruction from the top %1 token components (PCA)").arg(m_components);
  return tr("Reconstruction from the embedding");
}

void ReconstructionFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const QString subtitle =
      // Short enough for a dock beside the image on a laptop.
      tr("X̂ = (Y − b)·pinv(Wᵀ) · ‖X − X̂‖ / ‖X‖ = %1 · rank W = %2 of %3")
          .arg(m_relativeError, 0, 'g', 3)
          .arg(m_rank)
          .arg(m_embedDim);
  const QRectF body = paintTitle(painter, area, title(), subtitle);

  const double extentX = std::max(m_input.width(), m_grid.cols * m_patchSize);
  const double extentY = std::max(m_input.height(), m_grid.rows * m_patchSize);
  const PanelSpec input = imagePanel(extentX, extentY, m_grid, m_patchSize, tr("input"));
  const PanelSpec output = imagePanel(extentX, extentY, m_grid, m_patchSize, tr("reconstruction"));
  const PanelSpec error = gridPanel(m_grid, tr("error per patch"));
  // An exact reconstruction has errors at float rounding level; still show their scale.
  const float top = m_patchError.size() > 0 ? std::max(m_patchError.maxCoeff(), 1e-12f) : 1.0f;
  const ValueRange range{0.0f, top};
  const ColorbarSpec colorbar{m_colormap, range, tr("relative error"), false};
  const PanelLayout layout =
      layoutPanels(body, {input, output, error}, figureColorbarWidth(colorbar));

  const QPointF origin(0, 0);
  paintCaption(painter, layout.captions[0], input.caption, true);
  paintCells(painter,
             mapRectToPlot(layout.plots[0], input.x, input.y, QRectF(origin, m_input.size())),
             m_input, false);
  paintAxes(painter, layout.plots[0], input.x, input.y);
  paintCaption(painter, layout.captions[1], output.caption, true);
  paintCells(painter,
             mapRectToPlot(layout.plots[1], output.x, output.y, QRectF(origin, m_output.size())),
             m_output, false);
  paintAxes(painter, layout.plots[1], output.x, output.y);
  paintCaption(painter, layout.captions[2], error.caption, true);
  paintCells(painter, layout.plots[2],
             valuesToQImage(m_patchError, m_grid.rows, m_grid.cols, m_colormap, range));
  paintAxes(painter, layout.plots[2], error.x, error.y);
  paintFigureColorbar(painter, layout.colorbar, colorbar);
}

}  // namespace patchlens
