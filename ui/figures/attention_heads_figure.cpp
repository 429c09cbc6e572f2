#include "ui/figures/attention_heads_figure.h"

#include <QFontMetrics>
#include <QFontMetricsF>
#include <QPainter>
#include <algorithm>
#include <cmath>

#include "core/analysis/attention_mask.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/figure_painting.h"

namespace patchlens {

AttentionHeadsFigure::AttentionHeadsFigure(RowMatrixF maps, VectorF distances, GridSize grid,
                                           QString layerName, QString queryName, int queryRow,
                                           int queryCol, int selectedHead, ColormapId colormap,
                                           ColorScale scale, std::optional<MassMask> mask)
    : m_maps(std::move(maps)),
      m_distances(std::move(distances)),
      m_grid(grid),
      m_layerName(std::move(layerName)),
      m_queryName(std::move(queryName)),
      m_queryRow(queryRow),
      m_queryCol(queryCol),
      m_selectedHead(selectedHead),
      m_colormap(colormap),
      m_scale(scale),
      m_mask(std::move(mask)) {
  if (!m_mask) return;
  const int heads = static_cast<int>(m_maps.rows());
  RowMatrixF withMean(heads + 1, m_maps.cols());
  withMean.topRows(heads) = m_maps;
  withMean.row(heads) = m_maps.colwise().mean();
  m_masks = attentionMassMask(withMean, m_mask->threshold);
  // visualize_attention.py's display_instances with one instance: colour hsv(0, 1, 1), red.
  const int p = m_mask->patchSize;
  const QImage input = m_mask->input.convertToFormat(QImage::Format_RGB32);
  for (int i = 0; i <= heads; ++i) {
    QImage out(m_grid.cols * p, m_grid.rows * p, QImage::Format_RGB32);
    out.fill(Qt::black);
    for (int y = 0; y < out.height(); ++y) {
      auto* line = reinterpret_cast<QRgb*>(out.scanLine(y));
      const QRgb* src =
          y < input.height() ? reinterpret_cast<const QRgb*>(input.constScanLine(y)) : nullptr;
      for (int x = 0; x < out.width(); ++x) {
        const QRgb c = src && x < input.width() ? src[x] : qRgb(0, 0, 0);
        const double m = m_masks(i, (y / p) * m_grid.cols + x / p);
        // apply_mask(alpha=0.5), then astype(uint8) (truncation) as DINO draws it.
        const auto blend = [m](int v, int colour) {
          return static_cast<int>(v * (1.0 - 0.5 * m) + 0.5 * m * colour);
        };
        line[x] = qRgb(blend(qRed(c), 255), blend(qGreen(c), 0), blend(qBlue(c), 0));
      }
    }
    m_maskedImages.push_back(std::move(out));
  }
}

QImage AttentionHeadsFigure::maskedImage(int tile) const {
  if (tile < 0 || tile >= static_cast<int>(m_maskedImages.size())) return {};
  return m_maskedImages[static_cast<std::size_t>(tile)];
}

QString AttentionHeadsFigure::ownTitle() const {
  if (m_mask) return tr("Attention masks, %1").arg(m_layerName);
  return tr("Attention of every head, %1").arg(m_layerName);
}

QSizeF AttentionHeadsFigure::preferredSize() const {
  // Small enough that a dock shows the text at about its design size; the tiles reflow to
  // the shape they are given (paint chooses the number of columns).
  const int count = static_cast<int>(m_maps.rows()) + 1;
  const int columns = static_cast<int>(std::ceil(std::sqrt(count * 1.3)));
  const int rows = (count + columns - 1) / columns;
  return {480, 60 + rows * (400.0 / columns + 16)};
}

QString AttentionHeadsFigure::subtitle(bool distancesShown, bool meanAsMu, bool headNumbersOnly,
                                       bool headCaptionsHidden) const {
  if (m_mask)
    return tr("query %1 · red: top %2 % of each head's attention mass (DINO)%3")
        .arg(m_queryName)
        .arg(static_cast<double>(m_mask->threshold) * 100.0, 0, 'g', 4)
        .arg(headCaptionsHidden
                 ? tr(" · heads 0–%1 in reading order, then their mean").arg(m_maps.rows() - 1)
             : headNumbersOnly ? tr(" · tiles: heads 0–%1%2")
                                     .arg(m_maps.rows() - 1)
                                     .arg(meanAsMu ? tr(", μ: their mean") : QString())
             : meanAsMu ? tr(" · μ: their mean")
                        : QString());
  if (headCaptionsHidden)
    return tr("query: %1 · heads 0–%2 in reading order, then their mean, on one scale")
        .arg(m_queryName)
        .arg(m_maps.rows() - 1);
  if (headNumbersOnly)
    return tr("query: %1 · heads 0–%2 and their mean%3 on one scale")
        .arg(m_queryName)
        .arg(m_maps.rows() - 1)
        .arg(meanAsMu ? QStringLiteral(" (μ)") : QString());
  if (!distancesShown)
    return tr("query: %1 · %2 heads and their mean%3 on one scale")
        .arg(m_queryName)
        .arg(m_maps.rows())
        .arg(meanAsMu ? QStringLiteral(" (μ)") : QString());
  return tr("query: %1 · %2 heads and their mean on one scale · title: head · mean "
            "attention distance (px)")
      .arg(m_queryName)
      .arg(m_maps.rows());
}

QString AttentionHeadsFigure::longestSubtitle() const {
  // The mask view's wordings grow with the captions' fallbacks; the map view's is longest
  // with the distances.
  if (!m_mask) return subtitle();
  const QString numbers = subtitle(false, true, true, false);
  const QString hidden = subtitle(false, true, true, true);
  return numbers.size() > hidden.size() ? numbers : hidden;
}

QString AttentionHeadsFigure::caption(int tile) const {
  const bool isMean = tile == m_maps.rows();
  if (m_mask) return isMean ? tr("mean") : tr("h%1").arg(tile);
  return isMean ? tr("mean · %1").arg(m_distances.size() > 0 ? m_distances.mean() : 0.0f, 0, 'f', 0)
                : tr("h%1 · %2").arg(tile).arg(m_distances(tile), 0, 'f', 0);
}

AttentionHeadsFigure::Layout AttentionHeadsFigure::layout(const QRectF& area) const {
  Layout g;
  g.body =
      area.adjusted(figure_style::kMargin, titleHeight(title(), longestSubtitle(), area.width()),
                    -figure_style::kMargin, -figure_style::kMargin);
  const int count = static_cast<int>(m_maps.rows()) + 1;
  g.colorbar = ColorbarSpec{m_colormap, m_scale.range,
                            tr("attention probability · %1").arg(m_scale.caption()), false};
  const double aspect = static_cast<double>(m_grid.cols) / std::max(m_grid.rows, 1);
  // The number of columns that gives the largest tiles in this area whose captions
  // ("h11 · 125") are not cut; the largest tiles at all when none keeps them whole.
  QFont bold = figure_style::labelFont();
  bold.setBold(true);
  // The mask view's captions name the head only (its subtitle has no distance).
  const qreal captionWidth = QFontMetricsF(bold).horizontalAdvance(
      m_mask ? QStringLiteral("h00") : QStringLiteral("h00 · 000"));
  // At least the names, "h11" and a bold "mean" (the selected tile), whole: "m…" names nothing.
  const qreal nameWidth = QFontMetricsF(bold).horizontalAdvance(QStringLiteral("mean")) + 2;
  const auto bestTiles = [&](const QRectF& body, qreal colorbarWidth) {
    TileLayout chosen;
    qreal best = -1;
    int bestReadable = -1;
    for (int columns = 1; columns <= count; ++columns) {
      TileLayout t = layoutTiles(body, count, columns, aspect, true, colorbarWidth);
      const qreal size = t.tiles.empty() ? 0 : t.tiles.front().height();
      const qreal room = t.captions.empty() ? 0 : t.captions.front().width();
      // 2: whole captions over tiles of at least 24 pt (over stamp-sized maps they are no
      // gain); 1: the names whole; 0: neither.
      const int readable = room >= captionWidth + 2 && size >= 24.0 ? 2 : room >= nameWidth ? 1 : 0;
      if (readable > bestReadable || (readable == bestReadable && size > best + 1e-6)) {
        best = size;
        bestReadable = readable;
        chosen = std::move(t);
      }
    }
    return chosen;
  };
  g.tiles = bestTiles(g.body, m_mask ? 0.0 : figureColorbarWidth(g.colorbar));
  // The colour caption runs along the strip when it fits there; beside two short rows of
  // tiles (the Transformer layout's Attention dock at 1366 x 768) it was cut to
  // "attention …". Then it is written whole, horizontally: right of the strip's numbers,
  // wrapped to its widest word, or under the tiles, whichever leaves the larger tiles.
  const QFontMetrics tickMetrics(figure_style::tickFont());
  if (!m_mask && tickMetrics.horizontalAdvance(g.colorbar.label) >
                     g.tiles.colorbar.height() + tickMetrics.height()) {
    ColorbarSpec bare = g.colorbar;
    bare.label.clear();
    const qreal bareWidth = figureColorbarWidth(bare);
    const qreal lineHeight = tickMetrics.height();
    const QStringList under =
        colorbarLabelLines(tickMetrics, g.colorbar.label, static_cast<int>(g.body.width()));
    const qreal underHeight = static_cast<qreal>(under.size()) * lineHeight + figure_style::kGap;
    TileLayout below = bestTiles(g.body.adjusted(0, 0, 0, -underHeight), bareWidth);
    // Greedy lines no wider than the widest word: "attention", "probability", "· scale", …
    int wordWidth = 0;
    for (const QString& word : g.colorbar.label.split(QLatin1Char(' '), Qt::SkipEmptyParts))
      wordWidth = std::max(wordWidth, tickMetrics.horizontalAdvance(word));
    const QStringList block = wrapWords(tickMetrics, g.colorbar.label, wordWidth);
    const qreal blockHeight = static_cast<qreal>(block.size()) * lineHeight;
    TileLayout beside = bestTiles(g.body, bareWidth + figure_style::kGap + wordWidth);
    // Shorter wording along the strip, on two lines: "attention" / "min/max" (the mode's
    // name; a flat map keeps "uniform (range …)").
    ColorbarSpec brief = g.colorbar;
    brief.label =
        tr("attention · %1").arg(m_scale.uniform ? m_scale.caption() : scaleModeName(m_scale.mode));
    TileLayout along = bestTiles(g.body, bareWidth + 2 * (lineHeight + 3));
    const QStringList alongLines = colorbarLabelLines(
        tickMetrics, brief.label, static_cast<int>(along.colorbar.height() + lineHeight));
    const bool alongFits = !alongLines.join(QString()).contains(QChar(0x2026));
    const bool besideFits = beside.colorbar.height() + lineHeight >= blockHeight;
    // The larger tiles first, then the whole wording.
    const auto tileSize = [](const TileLayout& t) {
      return t.tiles.empty() ? 0.0 : t.tiles.front().height();
    };
    const qreal belowSize = tileSize(below);
    const qreal besideSize = besideFits ? tileSize(beside) : -1.0;
    const qreal alongSize = alongFits ? tileSize(along) : -1.0;
    // Whole words at the cost of much smaller tiles are no gain: below 85 % of the tiles
    // along the strip, the caption stays there (elided).
    const qreal keep = 0.85 * tileSize(g.tiles);
    if (std::max({belowSize, besideSize, alongSize}) < keep) {
      // nothing: g.tiles and the caption along the strip as laid out first
    } else if (besideSize >= belowSize && besideSize >= alongSize - 2.0) {
      g.tiles = std::move(beside);
      g.colorbarCaption = block;
      g.colorbarCaptionRect =
          QRectF(g.tiles.colorbar.right() - wordWidth,
                 g.tiles.colorbar.center().y() - blockHeight / 2, wordWidth, blockHeight);
      g.colorbarCaptionBeside = true;
    } else if (alongSize > belowSize + 2.0) {
      g.tiles = std::move(along);
      g.colorbar = brief;
    } else {
      g.tiles = std::move(below);
      g.colorbarCaption = under;
      g.colorbarCaptionRect = QRectF(g.body.left(), g.tiles.grid.bottom() + figure_style::kGap,
                                     g.body.width(), underHeight - figure_style::kGap);
    }
  }
  if (!g.tiles.captions.empty()) {
    // The mean's caption starts at its tile (left-aligned) and may run on to the right: up to
    // the next tile of its row, or the colorbar's room when it ends its row.
    QRectF& meanCaption = g.tiles.captions.back();
    meanCaption.setLeft(g.tiles.tiles.back().left());
    qreal right =
        g.tiles.colorbar.isValid() ? g.tiles.colorbar.left() - figure_style::kGap : g.body.right();
    for (std::size_t i = 0; i + 1 < g.tiles.tiles.size(); ++i) {
      const QRectF& t = g.tiles.tiles[i];
      if (t.left() > meanCaption.left() + 1e-6 && t.top() <= meanCaption.bottom() &&
          t.bottom() >= meanCaption.top())
        right = std::min(right, t.left());
    }
    meanCaption.setRight(std::max(meanCaption.right(), right));
  }
  // One wording for every head: "h0 · 22", else "h0", else "0", else none (the subtitle then
  // gives the order); never "h…", which would name another head. Centred in its tile's pitch,
  // a caption 2 pt narrower than the pitch keeps 2 pt from its neighbours; the mean's starts
  // at its tile and has its own room: "mean · 20", "mean", else "μ" (named in the subtitle).
  const QFontMetricsF plainMetrics(figure_style::tickFont());
  const QFontMetricsF boldMetrics(bold);
  const int heads = count - 1;
  const auto fits = [&](int i, const QString& text) {
    const bool selected = i == heads ? m_selectedHead < 0 : m_selectedHead == i;
    const qreal room = g.tiles.captions[static_cast<std::size_t>(i)].width() - (i == heads ? 0 : 2);
    return (selected ? boldMetrics : plainMetrics).horizontalAdvance(text) <= room;
  };
  bool whole = true, names = true, numbers = true;
  for (int i = 0; i < heads; ++i) {
    whole = whole && fits(i, caption(i));
    names = names && fits(i, tr("h%1").arg(i));
    numbers = numbers && fits(i, QString::number(i));
  }
  g.distancesShown = whole && fits(heads, caption(heads));
  g.headNumbersOnly = !whole && !names;
  g.headCaptionsHidden = g.headNumbersOnly && !numbers;
  for (int i = 0; i < heads; ++i)
    g.captions << (g.headCaptionsHidden ? QString()
                   : g.distancesShown   ? caption(i)
                   : g.headNumbersOnly  ? QString::number(i)
                                        : tr("h%1").arg(i));
  const QString mean = g.distancesShown          ? caption(heads)
                       : fits(heads, tr("mean")) ? tr("mean")
                                                 : QStringLiteral("μ");
  g.meanAsMu = mean == QStringLiteral("μ");
  // Narrower than "μ" too: the subtitle's "then their mean" is its only name.
  g.captions << (g.headCaptionsHidden && !fits(heads, mean) ? QString() : mean);
  return g;
}

void AttentionHeadsFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const int heads = static_cast<int>(m_maps.rows());
  const Layout g = layout(area);
  paintTitle(painter, area, title(),
             subtitle(g.distancesShown, g.meanAsMu, g.headNumbersOnly, g.headCaptionsHidden));
  const VectorF mean = heads > 0 ? VectorF(m_maps.colwise().mean().transpose()) : VectorF();
  for (int i = 0; i <= heads; ++i) {
    const bool isMean = i == heads;
    const VectorF values = isMean ? mean : VectorF(m_maps.row(i).transpose());
    const bool selected = isMean ? m_selectedHead < 0 : m_selectedHead == i;
    const QRectF captionRect = g.tiles.captions[static_cast<std::size_t>(i)];
    const QString& text = g.captions[i];
    if (isMean) {
      paintCaption(painter, captionRect, text, selected, Qt::AlignLeft);
    } else {
      paintCaption(painter, captionRect, text, selected);
    }
    const QRectF tile = g.tiles.tiles[static_cast<std::size_t>(i)];
    if (m_mask) {
      paintCells(painter, tile, m_maskedImages[static_cast<std::size_t>(i)], false);
      paintMaskOutline(painter, tile, i);
    } else {
      paintCells(painter, tile,
                 valuesToQImage(values, m_grid.rows, m_grid.cols, m_colormap, g.colorbar.range));
    }
    painter.save();
    if (m_queryRow >= 0) {
      const double cw = tile.width() / m_grid.cols;
      const double ch = tile.height() / m_grid.rows;
      painter.setPen(QPen(Qt::white, 1.0));
      painter.setBrush(Qt::NoBrush);
      painter.drawRect(QRectF(tile.left() + m_queryCol * cw, tile.top() + m_queryRow * ch, cw, ch));
    }
    painter.setPen(selected ? QPen(QColor(214, 39, 40), 2.0)
                            : QPen(figure_style::textColor(), 0.5));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(tile);
    painter.restore();
  }
  if (m_mask) return;
  if (g.colorbarCaption.isEmpty()) {
    paintFigureColorbar(painter, g.tiles.colorbar, g.colorbar);
    return;
  }
  ColorbarSpec bare = g.colorbar;
  bare.label.clear();
  paintFigureColorbar(painter, g.tiles.colorbar, bare);
  painter.save();
  painter.setFont(figure_style::tickFont());
  painter.setPen(figure_style::textColor());
  const qreal line = g.colorbarCaptionRect.height() / static_cast<qreal>(g.colorbarCaption.size());
  for (qsizetype i = 0; i < g.colorbarCaption.size(); ++i)
    painter.drawText(
        QRectF(g.colorbarCaptionRect.left(),
               g.colorbarCaptionRect.top() + static_cast<qreal>(i) * line,
               g.colorbarCaptionRect.width(), line),
        (g.colorbarCaptionBeside ? Qt::AlignLeft : Qt::AlignHCenter) | Qt::AlignVCenter,
        g.colorbarCaption[i]);
  painter.restore();
}

void AttentionHeadsFigure::paintMaskOutline(QPainter& painter, const QRectF& tile,
                                            int index) const {
  // The mask's contour (DINO: find_contours of the zero-padded mask): every cell edge between
  // a kept patch and a dropped one or the border.
  const double cw = tile.width() / m_grid.cols;
  const double ch = tile.height() / m_grid.rows;
  const auto kept = [&](int r, int c) {
    return r >= 0 && c >= 0 && r < m_grid.rows && c < m_grid.cols &&
           m_masks(index, r * m_grid.cols + c) > 0.5f;
  };
  painter.save();
  painter.setPen(QPen(QColor(255, 0, 0), 1.2));
  for (int r = 0; r < m_grid.rows; ++r) {
    for (int c = 0; c < m_grid.cols; ++c) {
      if (!kept(r, c)) continue;
      const double x0 = tile.left() + c * cw, x1 = x0 + cw;
      const double y0 = tile.top() + r * ch, y1 = y0 + ch;
      if (!kept(r - 1, c)) painter.drawLine(QPointF(x0, y0), QPointF(x1, y0));
      if (!kept(r + 1, c)) painter.drawLine(QPointF(x0, y1), QPointF(x1, y1));
      if (!kept(r, c - 1)) painter.drawLine(QPointF(x0, y0), QPointF(x0, y1));
      if (!kept(r, c + 1)) painter.drawLine(QPointF(x1, y0), QPointF(x1, y1));
    }
  }
  painter.restore();
}

std::optional<int> AttentionHeadsFigure::headAt(const Layout& g, const QPointF& point) const {
  const int heads = static_cast<int>(m_maps.rows());
  for (int i = 0; i <= heads; ++i) {
    const QRectF tile = g.tiles.tiles[static_cast<std::size_t>(i)];
    const QRectF caption = g.tiles.captions[static_cast<std::size_t>(i)];
    if (tile.contains(point) || caption.contains(point)) return i == heads ? -1 : i;
  }
  return std::nullopt;
}

}  // namespace patchlens
