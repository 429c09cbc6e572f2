#include "ui/views/colorbar.h"

#include <QFontMetrics>
#include <QPainter>
#include <algorithm>
#include <cmath>

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

int colorbarWidth(const QFont& font, const ColorbarSpec& spec) {
  const QFontMetrics fm(font);
  int widest = 0;
  // The painter picks 2..7 ticks by height; reserve room for the widest of those labels.
  for (int count = 2; count <= 7; ++count) {
    const auto ticks = niceTicks(spec.range.lo, spec.range.hi, count);
    const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
    for (const double t : ticks)
      widest = std::max(widest, fm.horizontalAdvance(tickText(t, spec, step)));
  }
  return kStripWidth + kTickLength + kGap + widest + kGap +
         (spec.label.isEmpty() ? 0 : fm.height() + kGap);
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
  for (const double t : ticks) {
    const double y = strip.bottom() - (t - spec.range.lo) / span * strip.height();
    painter.drawLine(QPointF(strip.right(), y), QPointF(strip.right() + kTickLength, y));
    const QRectF textRect(strip.right() + kTickLength + kGap, y - half,
                          rect.right() - strip.right(), 2 * half);
    painter.drawText(textRect, Qt::AlignLeft | Qt::AlignVCenter, tickText(t, spec, step));
  }
  if (!spec.label.isEmpty()) {
    painter.save();
    painter.translate(rect.right() - fm.descent(), rect.center().y());
    painter.rotate(-90);
    const QString text = fm.elidedText(spec.label, Qt::ElideRight, static_cast<int>(rect.height()));
    painter.drawText(QRectF(-rect.height() / 2, -fm.height(), rect.height(), fm.height()),
                     Qt::AlignCenter, text);
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
  return {m_spec ? colorbarWidth(font(), *m_spec) + 6 : 0, 200};
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
