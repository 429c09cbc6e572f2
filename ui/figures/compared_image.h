#pragma once

#include <QImage>
#include <QPointF>
#include <QString>
#include <algorithm>

#include "core/model/patch_embedding.h"
#include "ui/figures/figure_layout.h"

namespace patchlens {

// One side of a two-image figure: the model input, its patch grid and the name it is shown
// with (usually the file name).
struct ComparedImage {
  QImage input;
  GridSize grid;
  int patchSize = 0;
  QString name;

  // The image padded to whole patches, in pixels.
  double extentX() const { return std::max(input.width(), grid.cols * patchSize); }
  double extentY() const { return std::max(input.height(), grid.rows * patchSize); }
  PanelSpec imagePanel(const QString& caption) const {
    return patchlens::imagePanel(extentX(), extentY(), grid, patchSize, caption);
  }
  // The centre of patch `token` (row-major), in image pixels.
  QPointF patchCentre(int token) const {
    const int cols = std::max(grid.cols, 1);
    return {(token % cols + 0.5) * patchSize, (token / cols + 0.5) * patchSize};
  }
  QRectF patchRect(int token) const {
    const int cols = std::max(grid.cols, 1);
    return {double(token % cols * patchSize), double(token / cols * patchSize), double(patchSize),
            double(patchSize)};
  }
};

}  // namespace patchlens
