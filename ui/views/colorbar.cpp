#include "ui/views/colorbar.h"

#include <QFontMetrics>
#include <QPainter>
#include <algorithm>
#include <cmath>
#include <limits>

#include "ui/base/qt_conversions.h"

namespace patchlens {

namespace {

constexpr int kStripWidth = 14;
constexpr int kTickLength = 4;
constexpr int kGap = 3;

// The smallest 1 / 2 / 2.5 / 5 x 10^k step that gives at most maxTicks ticks in [lo, hi]:
// as many round numbers as fit, never fewer than the range allows.
double niceStep(double lo, double hi, int maxTicks) {
  const double span = hi - lo;
  const int top = static_cast<int>(std::floor(std::log10(span))) + 1;
  for (int e = top - 3; e <= top + 1; ++e) {
    for (const double m : {1.0, 2.0, 2.5, 5.0}) {
      const double step = m * std::pow(10.0, e);
      const double count = std::floor(hi / step + 1e-9) - std::ceil(lo / step - 1e-9) + 1;
      if (count <= maxTicks) return step;
    }
  }
  return span;
}

QString tickText(double value, const ColorbarSpec& spec, double step) {
  if (spec.integerTicks) return QString::number(std::lround(value));
  if (std::abs(value) < step * 1e-6) value = 0.0;  // no "-0" or "1e-17"
  const double magnitude = std::max(std::abs(spec.range.lo), std::abs(spec.range.hi));
  if (magnitude >= 1e4 || (magnitude > 0.0 && magnitude < 1e-3))
    return QString::number(value, 'g', 3);
  int decimals = 0;  // as many as the step needs: 0.25 needs 2, 5 needs 0
  while (decimals < 6 && std::abs(step * std::pow(10.0, decimals) -
                                  std::round(step * std::pow(10.0, decimals))) > 1e-6)
    ++decimals;
  return QString::number(value, 'f', decimals);
}

}  // namespace

std::vector<double> niceTicks(double lo, double hi, int maxTicks) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return ticks;
  const double step = niceStep(lo, hi, maxTicks);
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (double v = first; v <= hi + step * 1e-9; v += step) ticks.push_back(v);
  return ticks;
}

QStringList colorbarLabelLines(const QFontMetrics& fm, const QString& label, int length) {
  if (label.isEmpty() || fm.horizontalAdvance(label) <= length) return {label};
  // The split that leaves the longer line shortest; " · " between parts first, then spaces.
  QStringList best;
  int bestLongest = 0;
  for (const QString& separator : {QStringLiteral(" · "), QStringLiteral(" ")}) {
    for (qsizetype at = label.indexOf(separator); at > 0; at = label.indexOf(separator, at + 1)) {
      const QString first = label.left(at).trimmed();
      const QString second = label.mid(at + separator.size()).trimmed();
      const int longest = std::max(fm.horizontalAdvance(first), fm.horizontalAdvance(second));
      if (best.isEmpty() || longest < bestLongest) {
        best = {first, second};
        bestLongest = longest;
      }
    }
    if (!best.isEmpty() && bestLongest <= length) return best;
  }
  if (best.isEmpty()) return {fm.elidedText(label, Qt::ElideRight, length)};
  return {fm.elidedText(best[0], Qt::ElideRight, length),
          fm.elidedText(best[1], Qt::ElideRight, length)};
}

QStringList wrapWords(const QFontMetrics& fm, const QString& text, int width) {
  QStringList lines;
  for (const QString& word : text.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
    const QString joined = lines.isEmpty() ? word : lines.back() + QLatin1Char(' ') + word;
    if (!lines.isEmpty() && fm.horizontalAdvance(joined) <= width) {
      lines.back() = joined;
    } else {
      lines << word;
    }
  }
  return lines;
}

int colorbarWidth(const QFont& font, const ColorbarSpec& spec, int height) {
  const QFontMetrics fm(font);
  int widest = 0;
  // The painter picks 2..7 ticks by height; reserve room for the widest of those labels.
  for (int count = 2; count <= 7; ++count) {
    const auto ticks = niceTicks(spec.range.lo, spec.range.hi, count);
    const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
    for (const double t : ticks)
      widest = std::max(widest, fm.horizontalAdvance(tickText(t, spec, step)));
  }
  const int lines = spec.label.isEmpty() ? 0
                    : height > 0
                        ? static_cast<int>(colorbarLabelLines(fm, spec.label, height).size())
                        : 1;
  return kStripWidth + kTickLength + kGap + widest + kGap + lines * (fm.height() + kGap);
}

void paintColorbar(QPainter& painter, const QRectF& rect, const ColorbarSpec& spec,
                   const QColor& textColor) {
  painter.save();
  const QFontMetrics fm(painter.font());
  const double half = fm.height() / 2.0;
  const QRectF strip(rect.left(), rect.top() + half, kStripWidth,
                     std::max(rect.height() - 2 * half, 10.0));
  // The strip runs from low values at the bottom to high values at the top.
  const QImage lut = colormapStrip(spec.colormap);
  QImage column(1, lut.width(), QImage::Format_RGB32);
  for (int i = 0; i < lut.width(); ++i) column.setPixel(0, lut.width() - 1 - i, lut.pixel(i, 0));
  painter.save();
  painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
  painter.drawImage(strip, column);
  painter.restore();
  painter.setPen(QPen(textColor, 0));
  painter.setBrush(Qt::NoBrush);
  painter.drawRect(strip);

  const auto ticks =
      niceTicks(spec.range.lo, spec.range.hi,
                // A short strip (a laptop's dock) gets 2 ticks rather than overlapping labels.
                std::clamp(static_cast<int>(strip.height() / (fm.height() * 1.4)), 2, 7));
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  const double span = static_cast<double>(spec.range.hi) - static_cast<double>(spec.range.lo);
  // A strip shorter than two text lines (a 4-head model's tiles) still gets its ticks, but
  // a number only where it does not run into the one above it ("0.2" over "0.1"), from the
  // top: the largest value is the one a reader of a short strip looks for.
  double lastLabel = -std::numeric_limits<double>::infinity();
  for (auto it = ticks.rbegin(); it != ticks.rend(); ++it) {
    const double t = *it;
    const double y = strip.bottom() - (t - spec.range.lo) / span * strip.height();
    painter.drawLine(QPointF(strip.right(), y), QPointF(strip.right() + kTickLength, y));
    if (y - lastLabel < fm.height()) continue;
    lastLabel = y;
    const QRectF textRect(strip.right() + kTickLength + kGap, y - half,
                          rect.right() - strip.right(), 2 * half);
    painter.drawText(textRect, Qt::AlignLeft | Qt::AlignVCenter, tickText(t, spec, step));
  }
  if (!spec.label.isEmpty()) {
    // Two lines when one is too short and the rect has room for them (the widget's width
    // from colorbarWidth with its height); the second line runs along the right edge.
    QStringList lines = colorbarLabelLines(fm, spec.label, static_cast<int>(rect.height()));
    const double oneLine =
        colorbarWidth(painter.font(),
                      ColorbarSpec{spec.colormap, spec.range, QString(), spec.integerTicks}) +
        fm.height() + kGap;
    if (lines.size() > 1 && rect.width() < oneLine + fm.height() + kGap)
      lines = {fm.elidedText(spec.label, Qt::ElideRight, static_cast<int>(rect.height()))};
    painter.save();
    painter.translate(rect.right() - fm.descent(), rect.center().y());
    painter.rotate(-90);
    for (qsizetype i = 0; i < lines.size(); ++i) {
      // A strip shorter than one word: a bare "…" says nothing, so nothing is written.
      if (lines[i] == QString(QChar(0x2026))) continue;
      const double up = static_cast<double>(lines.size() - 1 - i) * (fm.height() + kGap);
      painter.drawText(QRectF(-rect.height() / 2, -fm.height() - up, rect.height(), fm.height()),
                       Qt::AlignCenter, lines[i]);
    }
    painter.restore();
  }
  painter.restore();
}

ColorbarWidget::ColorbarWidget(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Fixed, QSizePolicy::Expanding);
}

void ColorbarWidget::setSpec(const std::optional<ColorbarSpec>& spec) {
  m_spec = spec;
  updateGeometry();
  update();
}

QSize ColorbarWidget::sizeHint() const {
  // At its current height: a caption too long for one line gets a second one.
  return {m_spec ? colorbarWidth(font(), *m_spec, height() > 6 ? height() - 6 : 0) + 6 : 0, 200};
}

QStringList ColorbarWidget::labelLines() const {
  if (!m_spec || m_spec->label.isEmpty()) return {};
  const int length = height() - 6;
  QStringList lines = colorbarLabelLines(fontMetrics(), m_spec->label, length);
  const ColorbarSpec bare{m_spec->colormap, m_spec->range, QString(), m_spec->integerTicks};
  const int oneLine = colorbarWidth(font(), bare) + fontMetrics().height() + kGap;
  if (lines.size() > 1 && width() - 6 < oneLine + fontMetrics().height() + kGap)
    lines = {fontMetrics().elidedText(m_spec->label, Qt::ElideRight, length)};
  return lines;
}

void ColorbarWidget::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  // The caption's line count follows the height: the width hint may change.
  if (m_spec && !m_spec->label.isEmpty()) updateGeometry();
}

QSize ColorbarWidget::minimumSizeHint() const {
  return {sizeHint().width(), 80};
}

void ColorbarWidget::paintEvent(QPaintEvent* /*event*/) {
  if (!m_spec) return;
  QPainter painter(this);
  paintColorbar(painter, QRectF(rect()).adjusted(3, 3, -3, -3), *m_spec,
                palette().color(QPalette::WindowText));
}

}  // namespace patchlens
