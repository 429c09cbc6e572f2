#pragma once

#include <QCoreApplication>
#include <QImage>
#include <QRectF>
#include <QStringList>
#include <optional>
#include <vector>

#include "core/model/eigen_types.h"
#include "core/model/patch_embedding.h"
#include "ui/base/color_scale.h"
#include "ui/base/colormap.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

// Small multiples: what one query attends to in every head of one block, plus the mean over
// heads, on one shared colour scale (attentionColorScale: the overlay's and the exports'); each
// title gives the head's mean attention distance. The attention dock draws it on screen and
// hit-tests clicks with headAt(). With a mass threshold (DINO's visualize_attention.py
// --threshold) each tile is the model input with the patches that hold the top `threshold` of
// that head's attention mass tinted and outlined in DINO's red (core attentionMassMask; the
// mean tile: the mask of the mean map): `export --plot attention-mask:L[:T]`.
class AttentionHeadsFigure : public Figure {
  Q_DECLARE_TR_FUNCTIONS(AttentionHeadsFigure)

 public:
  struct MassMask {
    QImage input;  // the model input (8-bit RGB), at least grid * patchSize pixels
    int patchSize = 0;
    float threshold = 0.6f;
  };
  // maps [H x N] (row h = head h over the patches), distances [H] in pixels. Throws Error
  // when `mask` cannot be computed (a head without mass over the patches).
  AttentionHeadsFigure(RowMatrixF maps, VectorF distances, GridSize grid, QString layerName,
                       QString queryName, int queryRow, int queryCol, int selectedHead,
                       ColormapId colormap, ColorScale scale,
                       std::optional<MassMask> mask = std::nullopt);

  QString ownTitle() const override;
  QSizeF preferredSize() const override;
  void paint(QPainter& painter, const QRectF& area) const override;
  // Where everything goes in `area`, computed in one place: paint() draws from it and the
  // dock's mouse handler hit-tests with it. tiles.tiles[h] is head h, the last one the mean.
  struct Layout {
    QRectF body;
    TileLayout tiles;
    ColorbarSpec colorbar;
    // The colorbar's caption when it does not fit along the strip (then painted here,
    // horizontally): its lines and where they go, right of the strip's numbers (beside) or
    // under the tiles; empty along the strip.
    QStringList colorbarCaption;
    QRectF colorbarCaptionRect;
    bool colorbarCaptionBeside = false;
    // The captions as painted: one per tile, the mean's last (see `layout`).
    QStringList captions;
    bool distancesShown = true;
    bool meanAsMu = false;         // the mean's caption is "μ" (its tile is narrower than "mean")
    bool headNumbersOnly = false;  // "0", "1", … ("h10" is wider than its tile)
    bool headCaptionsHidden = false;  // narrower than "10": the subtitle gives the order
  };
  Layout layout(const QRectF& area) const;
  // The head under `point` of a layout: 0..H-1, -1 for the mean tile, nullopt outside every
  // tile and caption.
  std::optional<int> headAt(const Layout& layout, const QPointF& point) const;
  std::optional<int> headAt(const QRectF& area, const QPointF& point) const {
    return headAt(layout(area), point);
  }
  const RowMatrixF& maps() const { return m_maps; }
  // With a mass threshold: [H + 1 x N], 1 = kept (the last row: the mean's); else empty.
  const RowMatrixF& masks() const { return m_masks; }
  std::optional<float> massThreshold() const {
    return m_mask ? std::optional<float>(m_mask->threshold) : std::nullopt;
  }
  // DINO's masked image of tile i (0..H; H: the mean): the input's grid * P pixels, each
  // pixel p * (1 - 0.5 m) + 0.5 m * red (visualize_attention.py apply_mask). Null unmasked.
  QImage maskedImage(int tile) const;

 private:
  // `distancesShown`: the tile captions carry the mean attention distance (the subtitle says
  // so only then); the layout is computed with the longer wording.
  QString subtitle(bool distancesShown = true, bool meanAsMu = false, bool headNumbersOnly = false,
                   bool headCaptionsHidden = false) const;
  // The subtitle the layout reserves room for: the longest `paint` may write.
  QString longestSubtitle() const;
  QString caption(int tile) const;
  void paintMaskOutline(QPainter& painter, const QRectF& tile, int index) const;

  RowMatrixF m_maps;
  VectorF m_distances;
  GridSize m_grid;
  QString m_layerName;
  QString m_queryName;
  int m_queryRow;
  int m_queryCol;
  int m_selectedHead;  // -1: the mean
  ColormapId m_colormap;
  ColorScale m_scale;
  std::optional<MassMask> m_mask;
  RowMatrixF m_masks;
  std::vector<QImage> m_maskedImages;
};

}  // namespace patchlens
