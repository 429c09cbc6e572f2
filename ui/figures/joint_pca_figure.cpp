#include "ui/figures/joint_pca_figure.h"

#include <QPainter>
#include <algorithm>
#include <iterator>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

JointPcaFigure::JointPcaFigure(ComparedImage a, ComparedImage b, const JointPca& pca,
                               QString layerName, std::optional<ForegroundPcaOptions> foreground)
    : m_a(std::move(a)), m_b(std::move(b)) {
  m_rgbA = rgbRowsToQImage(pca.rgbA, m_a.grid.rows, m_a.grid.cols);
  m_rgbB = rgbRowsToQImage(pca.rgbB, m_b.grid.rows, m_b.grid.cols);
  QString shares;
  const VectorF& ratio = pca.pca.explainedVarianceRatio;
  for (Eigen::Index i = 0; i < std::min<Eigen::Index>(3, ratio.size()); ++i)
    shares += (i ? QStringLiteral(", ") : QString()) + QString::number(ratio(i) * 100.0, 'f', 1);
  const QString fitted = foreground
                             ? tr("fitted on the %1 foreground patches of both (%2 PC1 > %3)")
                                   .arg(pca.foregroundCount)
                                   .arg(foreground->flip ? tr("flipped scaled") : tr("scaled"))
                                   .arg(foreground->threshold, 0, 'f', 2)
                             : tr("fitted on all %1 patch tokens of both").arg(pca.foregroundCount);
  m_subtitle = tr("%1 · %2 · R, G, B = PC1, PC2, PC3 (%3 % of the variance), min–max over both")
                   .arg(layerName, fitted, shares.isEmpty() ? tr("none") : shares);
}

QSizeF JointPcaFigure::preferredSize() const {
  const double aspect = std::max(m_a.extentY() / std::max(m_a.extentX(), 1.0),
                                 m_b.extentY() / std::max(m_b.extentX(), 1.0));
  return {1000, 115 + 215 * std::clamp(aspect, 0.25, 2.0)};
}

QString JointPcaFigure::ownTitle() const {
  return tr("Joint PCA of two images: shared components as RGB");
}

void JointPcaFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const QRectF body = paintTitle(painter, area, title(), m_subtitle);
  const PanelSpec inputA = m_a.imagePanel(tr("A: %1").arg(m_a.name));
  const PanelSpec mapA = gridPanel(m_a.grid, tr("A, joint PCA"));
  const PanelSpec inputB = m_b.imagePanel(tr("B: %1").arg(m_b.name));
  const PanelSpec mapB = gridPanel(m_b.grid, tr("B, joint PCA"));
  const PanelLayout layout = layoutPanels(body, {inputA, mapA, inputB, mapB}, 0);
  const struct {
    const PanelSpec& spec;
    const QImage& image;
    bool photo;
  } panels[] = {{inputA, m_a.input, true},
                {mapA, m_rgbA, false},
                {inputB, m_b.input, true},
                {mapB, m_rgbB, false}};
  for (std::size_t i = 0; i < std::size(panels); ++i) {
    paintCaption(painter, layout.captions[i], panels[i].spec.caption, true);
    paintCells(painter, layout.plots[i], panels[i].image, !panels[i].photo);
    paintAxes(painter, layout.plots[i], panels[i].spec.x, panels[i].spec.y);
  }
}

}  // namespace patchlens
