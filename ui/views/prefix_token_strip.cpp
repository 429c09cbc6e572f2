#include "ui/views/prefix_token_strip.h"

#include <QFontMetrics>
#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>
#include <cmath>

#include "core/analysis/attention_maps.h"
#include "ui/base/category_palette.h"
#include "ui/base/qt_conversions.h"
#include "ui/session/session.h"

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

bool PrefixTokenStrip::showsSource() const {
  if (count() == 0 || m_session->result()->source == TokenSource::Tokens) return false;
  switch (m_session->overlay()) {
    case OverlayKind::Channel:
    case OverlayKind::Norm:
    case OverlayKind::Mean:
    case OverlayKind::Argmax:
    case OverlayKind::Similarity:
    case OverlayKind::Pca:
      return true;
    default:
      return false;  // attention and rollout are the block's, whatever the source
  }
}

RowMatrixF PrefixTokenStrip::prefixRows() const {
  const ComputeResult& r = *m_session->result();
  if (r.source != TokenSource::Tokens) return r.sourcePrefix;
  return r.layerIndex > 0 ? r.trace->prefixTokensAt(r.layerIndex) : RowMatrixF();
}

QString PrefixTokenStrip::label(int index) const {
  if (index < 0 || index >= count()) return {};
  const QString name = toQString(m_session->result()->trace->prefixNames[std::size_t(index)]);
  return showsSource() ? tr("%1 %2").arg(name, m_session->rowNoun(false)) : name;
}

int PrefixTokenStrip::cellWidth() const {
  QFont small = font();
  small.setPointSizeF(small.pointSizeF() * 0.85);
  const QFontMetrics metrics(small);
  int widest = kCell;
  for (int i = 0; i < count(); ++i)
    widest = std::max(widest, metrics.horizontalAdvance(label(i)) + 4);
  return widest;
}

void PrefixTokenStrip::refresh() {
  setVisible(count() > 0);
  if (showsSource()) {
    setToolTip(tr("Prefix tokens' %1 (%2): click one to make it the attention query")
                   .arg(m_session->rowNoun(true), m_session->sourceLayerName()));
  } else {
    setToolTip(tr("Prefix tokens: click one to make it the attention query"));
  }
  updateGeometry();
  update();
}

QSize PrefixTokenStrip::sizeHint() const {
  return {cellWidth() + 2 * kMargin, kMargin + count() * (kCell + kLabel + kMargin)};
}

QRect PrefixTokenStrip::cellRect(int index) const {
  return {kMargin + (cellWidth() - kCell) / 2,
          kMargin + kLabel + index * (kCell + kLabel + kMargin), kCell, kCell};
}

std::optional<float> PrefixTokenStrip::value(int index) const {
  if (index < 0 || index >= count()) return std::nullopt;
  const ComputeResult& r = *m_session->result();
  const LayerTrace& trace = *r.trace;
  const int layer = r.layerIndex;
  if (layer == 0 && m_session->overlay() != OverlayKind::Attention &&
      m_session->overlay() != OverlayKind::Rollout)
    return std::nullopt;                   // the patch embedding has no prefix tokens
  const RowMatrixF prefix = prefixRows();  // the source's q / k / v rows at a block
  switch (m_session->overlay()) {
    case OverlayKind::Channel:
      return prefix(index, m_session->channel());
    case OverlayKind::Norm:
      return prefix.row(index).norm();
    case OverlayKind::Mean:
      return prefix.row(index).mean();
    case OverlayKind::Argmax: {
      Eigen::Index channel = 0;
      prefix.row(index).maxCoeff(&channel);  // the first one on ties, as argmaxChannels
      return static_cast<float>(channel);
    }
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

std::optional<std::array<float, 3>> PrefixTokenStrip::pcaRgb(int index) const {
  if (index < 0 || index >= count() || m_session->overlay() != OverlayKind::Pca) return {};
  const ComputeResult& r = *m_session->result();
  const int layer = r.layerIndex;
  const PcaResult& pca = r.pca;
  if (layer == 0 || !r.hasPca() || pca.projections.cols() == 0) return {};
  // The same axes and the same per-component min..max as the patches' PCA → RGB.
  const VectorF centred = prefixRows().row(index).transpose() - pca.mean;
  std::array<float, 3> rgb{0.0f, 0.0f, 0.0f};
  const Eigen::Index k = std::min<Eigen::Index>(3, pca.projections.cols());
  for (Eigen::Index c = 0; c < k; ++c) {
    const float lo = pca.projections.col(c).minCoeff();
    const float hi = pca.projections.col(c).maxCoeff();
    if (hi <= lo) continue;  // a constant component maps to 0, as pcaToRgb does
    const float p = pca.components.row(c).dot(centred.transpose());
    rgb[std::size_t(c)] = std::clamp((p - lo) / (hi - lo), 0.0f, 1.0f);
  }
  return rgb;
}

std::optional<QColor> PrefixTokenStrip::pcaColour(int index) const {
  const auto rgb = pcaRgb(index);
  if (!rgb) return std::nullopt;
  return QColor::fromRgbF((*rgb)[0], (*rgb)[1], (*rgb)[2]);
}

QString PrefixTokenStrip::describe(int index) const {
  if (index < 0 || index >= count()) return {};
  const ComputeResult& r = *m_session->result();
  const QString name = label(index);  // "cls", or "cls key" for a block's keys
  const QString click = m_session->prefixQuery() == index
                            ? tr("click again to query the selected patch")
                            : tr("click to make it the attention query");
  if (r.layerIndex == 0 && m_session->overlay() != OverlayKind::Attention &&
      m_session->overlay() != OverlayKind::Rollout) {
    return tr("%1: the patch embedding has no prefix tokens; pick a deeper layer (%2)")
        .arg(name, click);
  }
  if (const auto rgb = pcaRgb(index)) {
    return tr("%1: PCA → RGB (%2, %3, %4) on the patches' components%5 (%6)")
        .arg(name)
        .arg(double((*rgb)[0]), 0, 'f', 2)
        .arg(double((*rgb)[1]), 0, 'f', 2)
        .arg(double((*rgb)[2]), 0, 'f', 2)
        .arg(showsSource() ? tr(", %1").arg(m_session->sourceLayerName()) : QString())
        .arg(click);
  }
  const OverlayMap& map = m_session->overlayMap();
  if (const auto v = value(index)) {
    const QString shown = m_session->overlay() == OverlayKind::Argmax
                              ? tr("channel %1").arg(int(*v))
                              : QString::number(double(*v), 'g', 5);
    // The map's label leads with the source for q / k / v ("Keys, block 6 · L2 norm · …").
    if (showsSource()) {
      return tr("%1 (%2): %3 = %4 (%5)")
          .arg(name, m_session->sourceLayerName(), map.label.section(QStringLiteral(" · "), 1, 1),
               shown, click);
    }
    return tr("%1: %2 = %3 (%4)")
        .arg(name, map.label.section(QStringLiteral(" · "), 0, 0), shown, click);
  }
  return tr("%1: no value under this overlay (%2)").arg(name, click);
}

int PrefixTokenStrip::cellAt(const QPoint& position) const {
  for (int i = 0; i < count(); ++i)
    if (cellRect(i).adjusted(0, -kLabel, 0, 0).contains(position)) return i;
  return -1;
}

bool PrefixTokenStrip::event(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const int cell = cellAt(help->pos());
    if (cell >= 0) {
      QToolTip::showText(help->globalPos(), describe(cell), this, cellRect(cell));
    } else {
      QToolTip::showText(help->globalPos(), toolTip(), this);
    }
    return true;
  }
  return QWidget::event(event);
}

void PrefixTokenStrip::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.fillRect(rect(), palette().window());
  if (count() == 0) return;
  const OverlayMap& map = m_session->overlayMap();
  QFont small = font();
  small.setPointSizeF(small.pointSizeF() * 0.85);
  painter.setFont(small);
  const auto query = m_session->prefixQuery();
  for (int i = 0; i < count(); ++i) {
    const QRect cell = cellRect(i);
    painter.setPen(palette().color(QPalette::WindowText));
    painter.drawText(QRect(0, cell.top() - kLabel, width(), kLabel), Qt::AlignCenter, label(i));
    const auto v = value(i);
    QColor fill(200, 200, 200);
    if (const auto pca = pcaColour(i)) {
      fill = *pca;  // a swatch, as the patches show PCA → RGB
    } else if (v && m_session->overlay() == OverlayKind::Argmax) {
      // The channel's category colour as the patches have it (grey when few patches win it).
      int rank = CategoryPalette::kDistinct;
      const auto ranked = CategoryPalette::ranked(map.values);
      for (std::size_t k = 0; k < ranked.size(); ++k)
        if (ranked[k].first == int(*v)) rank = int(k);
      fill = CategoryPalette::color(rank);
    } else if (v && !map.isRgb && map.values.size() > 0 && std::isfinite(*v)) {
      fill = colormapColor(map.colormap, *v, map.range);
    }
    painter.fillRect(cell, fill);
    const bool selected = query && *query == i;
    painter.setPen(
        QPen(selected ? QColor(214, 39, 40) : palette().color(QPalette::Mid), selected ? 3 : 1));
    painter.setBrush(Qt::NoBrush);
    painter.drawRect(cell.adjusted(0, 0, -1, -1));
    if (v) {
      painter.setPen(fill.lightness() > 128 ? Qt::black : Qt::white);
      const QString text = m_session->overlay() == OverlayKind::Argmax
                               ? QString::number(int(*v))
                               : QString::number(double(*v), 'g', 2);
      painter.drawText(cell, Qt::AlignCenter, text);
    }
  }
}

void PrefixTokenStrip::mousePressEvent(QMouseEvent* event) {
  const int i = cellAt(event->position().toPoint());
  if (i >= 0) {
    m_session->setPrefixQuery(m_session->prefixQuery() == i ? std::nullopt : std::optional<int>(i));
    return;
  }
  QWidget::mousePressEvent(event);
}

}  // namespace patchlens
