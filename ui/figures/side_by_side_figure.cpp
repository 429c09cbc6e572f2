#include "ui/figures/side_by_side_figure.h"

#include <QPainter>
#include <algorithm>

#include "ui/figures/figure_painting.h"

namespace patchlens {

SideBySideFigure::SideBySideFigure(std::unique_ptr<Figure> left, QString leftLabel,
                                   std::unique_ptr<Figure> right, QString rightLabel,
                                   QString subtitle)
    : m_left(std::move(left)),
      m_right(std::move(right)),
      m_leftLabel(std::move(leftLabel)),
      m_rightLabel(std::move(rightLabel)),
      m_subtitle(std::move(subtitle)) {}

QString SideBySideFigure::ownTitle() const {
  return tr("Two models, one image: %1").arg(m_left->title());
}

QSizeF SideBySideFigure::preferredSize() const {
  const QSizeF l = m_left->preferredSize();
  const QSizeF r = m_right->preferredSize();
  return {l.width() + r.width(),
          std::max(l.height(), r.height()) + titleHeight(m_subtitle) + captionHeight() * 1.5};
}

void SideBySideFigure::paint(QPainter& painter, const QRectF& area) const {
  paintBackground(painter, area);
  const QRectF body = paintTitle(painter, area, tr("Two models, one image"), m_subtitle);
  const qreal wl = m_left->preferredSize().width();
  const qreal wr = m_right->preferredSize().width();
  const qreal split = body.width() * wl / std::max(wl + wr, 1.0);
  const qreal band = captionHeight() * 1.5;
  const QRectF halves[] = {
      QRectF(body.left(), body.top(), split, body.height()),
      QRectF(body.left() + split, body.top(), body.width() - split, body.height())};
  const Figure* figures[] = {m_left.get(), m_right.get()};
  const QString labels[] = {m_leftLabel, m_rightLabel};
  for (int i = 0; i < 2; ++i) {
    const QRectF half = halves[i];
    paintCaption(painter, QRectF(half.left(), half.top(), half.width(), band), labels[i], true);
    figures[i]->paint(painter, half.adjusted(0, band, 0, 0));
  }
  // A rule between the two models.
  painter.save();
  painter.setPen(QPen(figure_style::textColor(), figure_style::kLineWidth));
  painter.drawLine(QPointF(body.left() + split, body.top()),
                   QPointF(body.left() + split, body.bottom()));
  painter.restore();
}

}  // namespace patchlens
