#pragma once

#include <QCoreApplication>
#include <optional>

#include "core/analysis/joint_pca.h"
#include "ui/figures/compared_image.h"
#include "ui/figures/figure.h"

namespace patchlens {

// One PCA fitted on the patch tokens of two images, both shown with the shared components as
// RGB (the same part gets the same colour in both), beside each input.
class JointPcaFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(JointPcaFigure)

 public:
  // `foreground`: the threshold the PCA used (nullopt: a plain PCA of all tokens).
  JointPcaFigure(ComparedImage a, ComparedImage b, const JointPca& pca, QString layerName,
                 std::optional<ForegroundPcaOptions> foreground);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  ComparedImage m_a;
  ComparedImage m_b;
  QImage m_rgbA;
  QImage m_rgbB;
  QString m_subtitle;
};

}  // namespace patchlens
