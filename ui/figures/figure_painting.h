#pragma once

#include <QColor>
#include <QFont>
#include <QFontMetricsF>
#include <QImage>
#include <QMarginsF>
#include <QPointF>
#include <QRectF>
#include <QString>
#include <vector>

#include "ui/views/colorbar.h"

class QPainter;

namespace patchlens {

// Fonts, colours and spacing shared by every figure, in figure units (points). Fonts are
// pixel-sized so that they scale with the painter like every other length.
namespace figure_style {
inline constexpr qreal kMargin = 10.0;  // around the whole figure
inline constexpr qreal kGap = 4.0;      // between a text and what it labels
inline constexpr qreal kTickLength = 4.0;
inline constexpr qreal kLineWidth = 0.8;
QFont titleFont();
QFont subtitleFont();
QFont labelFont();
QFont tickFont();
QColor textColor();
QColor backgroundColor();
}  // namespace figure_style

struct AxisTick {
  double position = 0.0;  // in the axis' data coordinates
  QString label;
};

// One axis of a panel: data coordinates [lo, hi] span the plot; `inverted` puts lo at the
// top of a vertical axis (image rows grow downwards).
struct AxisSpec {
  QString label;
  double lo = 0.0;
  double hi = 1.0;
  bool inverted = false;
  bool visible = true;
  std::vector<AxisTick> ticks;
};

// Round-numbered ticks (1 / 2 / 2.5 / 5 x 10^k) over [lo, hi].
AxisSpec valueAxis(const QString& label, double lo, double hi, int maxTicks);
// An axis over `count` cells of `unit` data units each (patches of P pixels, map cells of
// 1), spanning [0, extent]; ticks at cell centres, labelled with the cell index.
AxisSpec indexAxis(const QString& label, int count, double unit, double extent, int maxTicks);
AxisSpec hiddenAxis(double lo, double hi);

// A tick label with as many decimals as the step needs (no "-0", no "0.30000000000000004").
QString formatTick(double value, double step);

// The room axes need outside their plot: left for the y axis, bottom for the x axis.
QMarginsF axisMargins(const AxisSpec& x, const AxisSpec& y);
QPointF mapToPlot(const QRectF& plot, const AxisSpec& x, const AxisSpec& y, double xValue,
                  double yValue);
QRectF mapRectToPlot(const QRectF& plot, const AxisSpec& x, const AxisSpec& y, const QRectF& data);
// The frame, outward ticks, tick labels and axis labels (y label rotated).
void paintAxes(QPainter& painter, const QRectF& plot, const AxisSpec& x, const AxisSpec& y);

void paintBackground(QPainter& painter, const QRectF& area);
// The height of the title band (title, optional subtitle line below it).
qreal titleHeight(const QString& subtitle);
// The same for a figure `areaWidth` wide, whose title and subtitle wrap to fit it (what
// paintTitle takes).
qreal titleHeight(const QString& title, const QString& subtitle, qreal areaWidth);
// Paints the title band at the top of `area` (wrapped when narrow); returns what is left.
QRectF paintTitle(QPainter& painter, const QRectF& area, const QString& title,
                  const QString& subtitle = {});
// One line of small text centred (or aligned `horizontal`) in `rect`: panel and tile captions.
void paintCaption(QPainter& painter, const QRectF& rect, const QString& text, bool bold = false,
                  Qt::Alignment horizontal = Qt::AlignHCenter);
// What paintCaption draws of `text` in `width`: all of it; else the part before the first
// " · " when that fits whole; else `text` elided.
QString fittedCaption(const QString& text, const QFontMetricsF& metrics, qreal width);
qreal captionHeight();

// Cells as sharp squares in every output. SVG and PDF viewers smooth embedded images, so
// small images are first enlarged with nearest-neighbour sampling (not photos: `sharpen`
// false keeps them at their own resolution, they would only grow the file).
void paintCells(QPainter& painter, const QRectF& target, const QImage& cells, bool sharpen = true);
// An image with a map of grid cells blended over it at `opacity`, as one raster: SVG
// viewers differ in how they apply a group opacity, a blended image looks the same in all.
QImage blendCells(const QImage& image, const QImage& cells, const QRectF& cellsRect, qreal opacity);
// Equal-sized images in a grid, `separator` pixels of `background` between them.
QImage mosaic(const std::vector<QImage>& tiles, int columns, int separator,
              const QColor& background);

// A one-unit outline of a cell (the selected token, the reference patch).
void paintMarker(QPainter& painter, const QRectF& rect);

// A colorbar beside a plot: the strip spans `plotAligned` vertically, numbers right of it.
qreal figureColorbarWidth(const ColorbarSpec& spec);
void paintFigureColorbar(QPainter& painter, const QRectF& plotAligned, const ColorbarSpec& spec);

}  // namespace patchlens
