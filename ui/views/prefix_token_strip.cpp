#include "ui/views/prefix_token_strip.h"

#include <QMouseEvent>
#include <QPainter>
#include <cmath>

#include "core/analysis/attention_maps.h"
#include "ui/session/session.h"
#include "ui/views/qt_conversions.h"

namespace patchlens {

namespace {
constexpr int kCell = 34;
constexpr int kMargin = 6;
constexpr int kLabel = 16;
}  // namespace

PrefixTokenStrip::PrefixTokenStrip(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("prefixTokenStrip"));
  setToolTip(tr("Prefix tokens: click one to make it the attention query"));
  for (auto signal : {&Session::resultChanged, &Session::overlayChanged, &Session::selectionChanged,
                      &Session::attentionChanged}) {
    connect(session, signal, this, &PrefixTokenStrip::refresh);
  }
  connect(session, &Session::channelChanged, this, &PrefixTokenStrip::refresh);
  refresh();
}

int PrefixTokenStrip::count() const {
  return m_session->hasTransformer() ? m_session->result()->trace->prefixTokens : 0;
}

void PrefixTokenStrip::refresh() {
  setVisible(count() > 0);
  updateGeometry();
  update();
}

QSize PrefixTokenStrip::sizeHint() const {
  return {kCell + 2 * kMargin, kMargin + count() * (kCell + kLabel + kMargin)};
}

QRect PrefixTokenStrip::cellRect(int index) const {
  return {kMargin, kMargin + kLabel + index * (kCell + kLabel + kMargin), kCell, kCell};
}

std::optional<float> PrefixTokenStrip::value(int index) const {
  if (index < 0 || index >= count()) return std::nullopt;
  const ComputeResult& r = *m_session->result();
  const LayerTrace& trace = *r.trace;
  const int layer = r.layerIndex;
  if (layer == 0 && m_session->overlay() != OverlayKind::Attention &&
      m_session->overlay() != OverlayKind::Rollout)
    return std::nullopt;  // the patch embedding has no prefix tokens
  const RowMatrixF prefix = layer > 0 ? trace.prefixTokensAt(layer) : RowMatrixF();
  switch (m_session->overlay()) {
    case OverlayKind::Channel:
      return prefix(index, m_session->channel());
    case OverlayKind::Norm:
      return prefix.row(index).norm();
    case OverlayKind::Mean:
      return prefix.row(index).mean();
    case OverlayKind::Similarity: {
      const int token = m_session->selectedToken();
      if (token < 0) return std::nullopt;
      const auto a = prefix.row(index);
      const auto b = r.embedding.tokens.row(token);
      const float n = a.norm() * b.norm();
      return n > 0 ? a.dot(b) / n : 0.0f;
    }
    case OverlayKind::Attention:
      if (const auto* heads = m_session->currentAttention()) {
        const int q = m_session->queryToken();
        if (m_session->head() >= 0) return (*heads)[std::size_t(m_session->head())](q, index);
        return meanOverHeads(*heads)(q, index);
      }
      return std::nullopt;
    case OverlayKind::Rollout:
      return trace.rollout.matrix()(m_session->rolloutToken(), index);
    default:
      return std::nullopt;
  }
}

void PrefixTokenStrip::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.fillRect(rect(), palette().window());
  if (count() == 0) return;
  const ComputeResult& r = *m_session->result();
  const OverlayMap& map = m_session->overlayMap();
  QFont small = font();
  small.setPointSizeF(small.pointSizeF() * 0.85);
  painter.setFont(small);
  const auto query = m_session->prefixQuery();
  for (int i = 0; i < count(); ++i) {
    const QRect cell = cellRect(i);
    painter.setPen(palette().color(QPalette::WindowText));
    painter.drawText(QRect(0, cell.top() - kLabel, width(), kLabel), Qt::AlignCenter,
                     toQString(r.trace->prefixNames[std::size_t(i)]));
    const auto v = value(i);
    QColor fill(200, 200, 200);
    if (v && !map.isRgb && map.values.size() > 0 && std::isfinite(*v))
      fill = colormapColor(map.colormap, *v, map.range);
    painter.fillRect(cell, fill);
    const bool selected = query && *query == i;
    painter.setPen(
        QPen(selected ? QColor(214, 39, 40) : palette().color(QPalette::Mid), selected ? 3 : 1));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(cell.adjusted(0, 0, -1, -1));
    if (v) {
      painter.setPen(fill.lightness() > 128 ? Qt::black : Qt::white);
      painter.drawText(cell, Qt::AlignCenter, QString::number(*v, 'g', 2));
    }
  }
}

void PrefixTokenStrip::mousePressEvent(QMouseEvent* event) {
  for (int i = 0; i < count(); ++i) {
    if (cellRect(i).adjusted(0, -kLabel, 0, 0).contains(event->position().toPoint())) {
      m_session->setPrefixQuery(m_session->prefixQuery() == i ? std::nullopt
                                                              : std::optional<int>(i));
      return;
    }
  }
  QWidget::mousePressEvent(event);
}

}  // namespace patchlens
