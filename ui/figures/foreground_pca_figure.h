#pragma once

#include <QCoreApplication>
#include <QImage>

#include "core/analysis/foreground_pca.h"
#include "core/model/patch_embedding.h"
#include "core/model/qkv_features.h"
#include "ui/figures/figure.h"

namespace patchlens {

// The DINOv2 recipe for features as colour: the input, the first principal component scaled
// to [0, 1] with the foreground threshold outlined, and the second PCA of the foreground
// tokens as RGB over a black background.
class ForegroundPcaFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(ForegroundPcaFigure)

 public:
  ForegroundPcaFigure(QImage input, ForegroundPca pca, ForegroundPcaOptions options, GridSize grid,
                      int patchSize, QString shown);

  // What the PCA is of, for the title: "the foreground tokens, Block 6", or for a block's
  // queries, keys or values "the keys of block 4, foreground" (`layerName` is the tokens'
  // layer name, "Block 6"; `block` the block the q / k / v come from).
  static QString shownText(TokenSource source, const QString& layerName, int block);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;

 private:
  QImage m_input;
  ForegroundPca m_pca;
  ForegroundPcaOptions m_options;
  GridSize m_grid;
  int m_patchSize;
  QString m_shown;
};

}  // namespace patchlens
