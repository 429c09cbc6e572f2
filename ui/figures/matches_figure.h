#pragma once

#include <QCoreApplication>
#include <vector>

#include "core/analysis/correspondences.h"
#include "ui/base/colormap.h"
#include "ui/figures/compared_image.h"
#include "ui/figures/figure.h"

namespace patchlens {

// The best mutual nearest neighbours between two images' patch tokens as lines from patch
// centre to patch centre, coloured by cosine similarity (DINO's matching figures).
class MatchesFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(MatchesFigure)

 public:
  // `shown`: the matches to draw, best first; `mutualCount`: how many mutual pairs exist;
  // `restriction`: a note such as "foreground patches only" (empty: none).
  MatchesFigure(ComparedImage a, ComparedImage b, std::vector<PatchMatch> shown, int mutualCount,
                QString layerName, QString restriction, ColormapId colormap);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  ComparedImage m_a;
  ComparedImage m_b;
  std::vector<PatchMatch> m_shown;
  int m_mutualCount;
  QString m_layerName;
  QString m_restriction;
  ColormapId m_colormap;
};

}  // namespace patchlens
