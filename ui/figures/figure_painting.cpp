#include "ui/figures/figure_painting.h"

#include <QFontMetricsF>
#include <QPaintEngine>
#include <QPainter>
#include <algorithm>
#include <cmath>

namespace patchlens {

namespace figure_style {

namespace {
QFont makeFont(qreal pixelSize, bool bold) {
  QFont font(QStringLiteral("DejaVu Sans"));
  font.setStyleHint(QFont::SansSerif);
  // Pixel sizes are figure units, so they scale with the painter like every other length.
  font.setPixelSize(static_cast<int>(std::lround(pixelSize)));
  font.setBold(bold);
  // Hinting would change widths with the scale; one layout must fit every export.
  font.setHintingPreference(QFont::PreferNoHinting);
  return font;
}
}  // namespace

QFont titleFont() {
  return makeFont(14, true);
}
QFont subtitleFont() {
  return makeFont(11, false);
}
QFont labelFont() {
  return makeFont(11, false);
}
QFont tickFont() {
  return makeFont(10, false);
}
QColor textColor() {
  return {34, 34, 34};
}
QColor backgroundColor() {
  return Qt::white;
}

}  // namespace figure_style

using namespace figure_style;

AxisSpec valueAxis(const QString& label, double lo, double hi, int maxTicks) {
  AxisSpec axis;
  axis.label = label;
  axis.lo = lo;
  axis.hi = hi;
  const std::vector<double> values = niceTicks(lo, hi, maxTicks);
  const double step = values.size() > 1 ? values[1] - values[0] : std::abs(hi - lo);
  for (const double v : values) axis.ticks.push_back({v, formatTick(v, step)});
  return axis;
}

AxisSpec indexAxis(const QString& label, int count, double unit, double extent, int maxTicks) {
  AxisSpec axis;
  axis.label = label;
  axis.lo = 0.0;
  axis.hi = extent;
  // Integer steps only: a tick names a cell.
  std::vector<double> values = niceTicks(0.0, std::max(count - 1, 1), maxTicks);
  double step = values.size() > 1 ? std::max(1.0, std::round(values[1] - values[0])) : 1.0;
  for (double i = 0; i < count; i += step) {
    axis.ticks.push_back({(i + 0.5) * unit, QString::number(static_cast<int>(i))});
  }
  return axis;
}

AxisSpec hiddenAxis(double lo, double hi) {
  AxisSpec axis;
  axis.lo = lo;
  axis.hi = hi;
  axis.visible = false;
  return axis;
}

QString formatTick(double value, double step) {
  if (std::abs(value) < std::abs(step) * 1e-6) value = 0.0;  // no "-0" or "1e-17"
  const double magnitude = std::max(std::abs(value), std::abs(step));
  if (magnitude >= 1e5 || (magnitude > 0.0 && magnitude < 1e-3))
    return QString::number(value, 'g', 3);
  int decimals = 0;  // as many as the step needs: 0.25 needs 2, 5 needs 0
  while (decimals < 6) {
    const double scaled = std::abs(step) * std::pow(10.0, decimals);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) break;
    ++decimals;
  }
  return QString::number(value, 'f', decimals);
}

namespace {

qreal widestTickLabel(const AxisSpec& axis) {
  const QFontMetricsF fm(tickFont());
  qreal widest = 0.0;
  for (const AxisTick& t : axis.ticks) widest = std::max(widest, fm.horizontalAdvance(t.label));
  return widest;
}

double fraction(const AxisSpec& axis, double value) {
  const double span = axis.hi - axis.lo;
  return span != 0.0 ? (value - axis.lo) / span : 0.5;
}

}  // namespace

QMarginsF axisMargins(const AxisSpec& x, const AxisSpec& y) {
  const qreal tickHeight = QFontMetricsF(tickFont()).height();
  const qreal labelHeight = QFontMetricsF(labelFont()).height();
  QMarginsF margins(kGap, kGap, kGap, kGap);
  if (y.visible) {
    margins.setLeft(kTickLength + kGap + widestTickLabel(y) + kGap +
                    (y.label.isEmpty() ? 0.0 : labelHeight + kGap));
    margins.setTop(tickHeight / 2);  // a tick label at the very top sticks out by half its height
  }
  if (x.visible) {
    margins.setBottom(kTickLength + kGap + tickHeight +
                      (x.label.isEmpty() ? 0.0 : labelHeight + kGap));
    // Likewise a label at the right end sticks out by half its width.
    if (!x.ticks.empty()) {
      const qreal last = QFontMetricsF(tickFont()).horizontalAdvance(x.ticks.back().label);
      margins.setRight(std::max(kGap, last / 2 + 1.0));
    }
  }
  return margins;
}

QPointF mapToPlot(const QRectF& plot, const AxisSpec& x, const AxisSpec& y, double xValue,
                  double yValue) {
  const double fx = fraction(x, xValue);
  const double fy = fraction(y, yValue);
  return {plot.left() + fx * plot.width(),
          y.inverted ? plot.top() + fy * plot.height() : plot.bottom() - fy * plot.height()};
}

QRectF mapRectToPlot(const QRectF& plot, const AxisSpec& x, const AxisSpec& y, const QRectF& data) {
  return QRectF(mapToPlot(plot, x, y, data.left(), data.top()),
                mapToPlot(plot, x, y, data.right(), data.bottom()))
      .normalized();
}

namespace {

// Label every k-th tick, k the smallest step at which neighbouring labels (extent: their
// width along the axis) no longer overlap.
template <typename Position, typename Extent>
int labelStep(const std::vector<AxisTick>& ticks, Position position, Extent extent) {
  if (ticks.size() < 2) return 1;
  for (int step = 1; step < static_cast<int>(ticks.size()); ++step) {
    bool fits = true;
    for (std::size_t i = 0; i + std::size_t(step) < ticks.size() && fits; i += std::size_t(step)) {
      const AxisTick& a = ticks[i];
      const AxisTick& b = ticks[i + std::size_t(step)];
      fits = std::abs(position(b) - position(a)) >= (extent(a) + extent(b)) / 2;
    }
    if (fits) return step;
  }
  return static_cast<int>(ticks.size());
}

}  // namespace

void paintAxes(QPainter& painter, const QRectF& plot, const AxisSpec& x, const AxisSpec& y) {
  painter.save();
  QPen pen(textColor(), kLineWidth);
  pen.setCapStyle(Qt::FlatCap);
  painter.setPen(pen);
  painter.setBrush(Qt::NoBrush);
  painter.drawRect(plot);
  painter.setFont(tickFont());
  const QFontMetricsF tickMetrics(tickFont());
  const qreal tickHeight = tickMetrics.height();
  if (x.visible) {
    // Labels that would touch their neighbours (a small panel in a dock) are thinned to
    // every k-th tick; every tick mark stays.
    const int xStep = labelStep(
        x.ticks, [&](const AxisTick& t) { return mapToPlot(plot, x, y, t.position, y.lo).x(); },
        [&](const AxisTick& t) { return tickMetrics.horizontalAdvance(t.label) + kGap; });
    for (std::size_t i = 0; i < x.ticks.size(); ++i) {
      const AxisTick& t = x.ticks[i];
      const qreal px = mapToPlot(plot, x, y, t.position, y.lo).x();
      if (px < plot.left() - 0.01 || px > plot.right() + 0.01) continue;
      painter.drawLine(QPointF(px, plot.bottom()), QPointF(px, plot.bottom() + kTickLength));
      if (i % std::size_t(xStep) != 0) continue;
      const qreal w = tickMetrics.horizontalAdvance(t.label) + 2;
      painter.drawText(QRectF(px - w / 2, plot.bottom() + kTickLength + kGap / 2, w, tickHeight),
                       Qt::AlignCenter, t.label);
    }
    if (!x.label.isEmpty()) {
      painter.setFont(labelFont());
      const qreal top = plot.bottom() + kTickLength + kGap / 2 + tickHeight + kGap;
      painter.drawText(
          QRectF(plot.left() - 100, top, plot.width() + 200, QFontMetricsF(labelFont()).height()),
          Qt::AlignHCenter | Qt::AlignTop, x.label);
      painter.setFont(tickFont());
    }
  }
  if (y.visible) {
    const qreal widest = widestTickLabel(y);
    const int yStep = labelStep(
        y.ticks, [&](const AxisTick& t) { return mapToPlot(plot, x, y, x.lo, t.position).y(); },
        [&](const AxisTick&) { return tickHeight; });
    for (std::size_t i = 0; i < y.ticks.size(); ++i) {
      const AxisTick& t = y.ticks[i];
      const qreal py = mapToPlot(plot, x, y, x.lo, t.position).y();
      if (py < plot.top() - 0.01 || py > plot.bottom() + 0.01) continue;
      painter.drawLine(QPointF(plot.left() - kTickLength, py), QPointF(plot.left(), py));
      if (i % std::size_t(yStep) != 0) continue;
      painter.drawText(QRectF(plot.left() - kTickLength - kGap - widest - 2, py - tickHeight / 2,
                              widest + 2, tickHeight),
                       Qt::AlignRight | Qt::AlignVCenter, t.label);
    }
    if (!y.label.isEmpty()) {
      painter.setFont(labelFont());
      const QFontMetricsF fm(labelFont());
      const qreal right = plot.left() - kTickLength - kGap - widest - kGap;
      painter.translate(right - fm.height(), plot.center().y());
      painter.rotate(-90);
      painter.drawText(QRectF(-plot.height() / 2 - 100, 0, plot.height() + 200, fm.height()),
                       Qt::AlignCenter, y.label);
    }
  }
  painter.restore();
}

void paintBackground(QPainter& painter, const QRectF& area) {
  painter.fillRect(area, backgroundColor());
}

qreal titleHeight(const QString& subtitle) {
  qreal h = kMargin + QFontMetricsF(titleFont()).height();
  if (!subtitle.isEmpty()) h += QFontMetricsF(subtitleFont()).height();
  return h + kGap * 2;
}

namespace {

constexpr int kTitleLines = 2;     // a title wraps onto at most two lines in a narrow figure
constexpr int kSubtitleLines = 3;  // a subtitle onto three, then it is elided

// `text` wrapped at word boundaries into `width`, at most `lines` lines (the rest elided),
// and the height it takes.
std::pair<QString, qreal> wrapped(const QString& text, const QFont& font, qreal width, int lines) {
  const QFontMetricsF fm(font);
  if (text.isEmpty() || width <= 0) return {text, text.isEmpty() ? 0.0 : fm.height()};
  const auto heightOf = [&](const QString& t) {
    return fm.boundingRect(QRectF(0, 0, width, 1e6), Qt::TextWordWrap | Qt::AlignHCenter, t)
        .height();
  };
  QString shown = text;
  const qreal most = std::max(fm.lineSpacing(), fm.height()) * lines + 1.0;
  // Elide from the end until the wrapped text fits the allowed lines.
  for (qreal budget = width * lines; heightOf(shown) > most && budget > width * 0.5;
       budget *= 0.93) {
    shown = fm.elidedText(text, Qt::ElideRight, budget);
  }
  return {shown, std::max(fm.height(), heightOf(shown))};
}

}  // namespace

qreal titleHeight(const QString& title, const QString& subtitle, qreal areaWidth) {
  const qreal width = areaWidth - 2 * kMargin;
  qreal h = kMargin + wrapped(title, titleFont(), width, kTitleLines).second;
  if (!subtitle.isEmpty()) h += wrapped(subtitle, subtitleFont(), width, kSubtitleLines).second;
  return h + kGap * 2;
}

QRectF paintTitle(QPainter& painter, const QRectF& area, const QString& title,
                  const QString& subtitle) {
  // A narrow figure (a dock) wraps its title and subtitle instead of cutting them off.
  painter.save();
  painter.setPen(textColor());
  const qreal width = area.width() - 2 * kMargin;
  qreal y = area.top() + kMargin;
  painter.setFont(titleFont());
  const auto [titleText, titleH] = wrapped(title, titleFont(), width, kTitleLines);
  painter.drawText(QRectF(area.left() + kMargin, y, width, titleH),
                   Qt::AlignHCenter | Qt::AlignTop | Qt::TextWordWrap, titleText);
  y += titleH;
  if (!subtitle.isEmpty()) {
    painter.setFont(subtitleFont());
    painter.setPen(textColor().lighter(160));
    const auto [subText, subH] = wrapped(subtitle, subtitleFont(), width, kSubtitleLines);
    painter.drawText(QRectF(area.left() + kMargin, y, width, subH),
                     Qt::AlignHCenter | Qt::AlignTop | Qt::TextWordWrap, subText);
  }
  painter.restore();
  const qreal used = titleHeight(title, subtitle, area.width());
  return area.adjusted(kMargin, used, -kMargin, -kMargin);
}

qreal captionHeight() {
  return QFontMetricsF(labelFont()).height() + kGap / 2;
}

void paintCaption(QPainter& painter, const QRectF& rect, const QString& text, bool bold,
                  Qt::Alignment horizontal) {
  painter.save();
  QFont font = bold ? labelFont() : tickFont();
  font.setBold(bold);
  painter.setFont(font);
  painter.setPen(textColor());
  const QFontMetricsF fm(font);
  painter.drawText(rect, horizontal | Qt::AlignBottom, fittedCaption(text, fm, rect.width() + 2));
  painter.restore();
}

QString fittedCaption(const QString& text, const QFontMetricsF& metrics, qreal width) {
  if (metrics.horizontalAdvance(text) <= width) return text;
  // "h10 · 117" in a narrow tile: "h10" whole says which head, "h1…" would name another.
  const auto cut = text.indexOf(QStringLiteral(" · "));
  if (cut > 0 && metrics.horizontalAdvance(text.left(cut)) <= width) return text.left(cut);
  return metrics.elidedText(text, Qt::ElideRight, width);
}

void paintCells(QPainter& painter, const QRectF& target, const QImage& cells, bool sharpen) {
  if (cells.isNull() || target.isEmpty()) return;
  QImage image = cells;
  const bool raster =
      painter.paintEngine() != nullptr && painter.paintEngine()->type() == QPaintEngine::Raster;
  if (sharpen && !raster) {
    // About 4 image pixels per point: sharp at any zoom a reader will use, small files.
    const int longest = std::max(cells.width(), cells.height());
    const double wanted = 4.0 * std::max(target.width(), target.height()) / longest;
    const int factor =
        static_cast<int>(std::clamp(std::floor(wanted), 1.0, std::floor(4096.0 / longest)));
    if (factor > 1)
      image = cells.scaled(cells.size() * factor, Qt::IgnoreAspectRatio, Qt::FastTransformation);
  }
  painter.save();
  painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
  painter.drawImage(target, image);
  painter.restore();
}

QImage blendCells(const QImage& image, const QImage& cells, const QRectF& cellsRect,
                  qreal opacity) {
  QImage result = image.convertToFormat(QImage::Format_RGB32);
  QPainter p(&result);
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);
  p.setOpacity(opacity);
  p.drawImage(cellsRect, cells);
  return result;
}

QImage mosaic(const std::vector<QImage>& tiles, int columns, int separator,
              const QColor& background) {
  if (tiles.empty() || columns < 1) return {};
  const int w = tiles.front().width();
  const int h = tiles.front().height();
  const int count = static_cast<int>(tiles.size());
  const int rows = (count + columns - 1) / columns;
  QImage result(columns * (w + separator) - separator, rows * (h + separator) - separator,
                QImage::Format_RGB32);
  result.fill(background);
  QPainter p(&result);
  for (int i = 0; i < count; ++i)
    p.drawImage(QPoint((i % columns) * (w + separator), (i / columns) * (h + separator)), tiles[i]);
  return result;
}

void paintMarker(QPainter& painter, const QRectF& rect) {
  painter.save();
  painter.setBrush(Qt::NoBrush);
  painter.setPen(QPen(Qt::white, 2.4));
  painter.drawRect(rect);
  painter.setPen(QPen(Qt::black, 1.0));
  painter.drawRect(rect);
  painter.restore();
}

qreal figureColorbarWidth(const ColorbarSpec& spec) {
  return colorbarWidth(tickFont(), spec) + kGap;
}

void paintFigureColorbar(QPainter& painter, const QRectF& plotAligned, const ColorbarSpec& spec) {
  painter.save();
  painter.setFont(tickFont());
  // paintColorbar keeps half a text line free at both ends for the end labels; extend the
  // rectangle by that much so the strip itself lines up with the plot.
  const qreal half = QFontMetrics(tickFont()).height() / 2.0;
  paintColorbar(painter, plotAligned.adjusted(0, -half, 0, half), spec, textColor());
  painter.restore();
}

}  // namespace patchlens
