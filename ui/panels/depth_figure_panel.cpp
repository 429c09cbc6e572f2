#include "ui/panels/depth_figure_panel.h"

#include <QEvent>
#include <QMouseEvent>
#include <QVBoxLayout>
#include <cmath>

#include "core/analysis/depth_norms.h"
#include "ui/figures/attention_distance_figure.h"
#include "ui/figures/figure_layout.h"
#include "ui/figures/token_norms_figure.h"
#include "ui/session/session.h"
#include "ui/views/figure_widget.h"

namespace patchlens {

DepthFigurePanel::DepthFigurePanel(Kind kind, Session* session, QWidget* parent)
    : QWidget(parent), m_kind(kind), m_session(session) {
  setObjectName(kind == Kind::AttentionDistance ? QStringLiteral("attentionDistancePanel")
                                                : QStringLiteral("tokenNormsPanel"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  m_figure = new FigureWidget(session, this);
  m_figure->setMinimumSize(260, 200);
  m_figure->installEventFilter(this);
  layout->addWidget(m_figure, 1);
  connect(session, &Session::resultChanged, this, &DepthFigurePanel::rebuild);
  connect(session, &Session::attentionChanged, this, &DepthFigurePanel::rebuild);
  rebuild();
}

void DepthFigurePanel::rebuild() {
  if (!m_session->hasTransformer()) {
    m_figure->setFigure(nullptr);
    m_figure->setPlaceholder(m_session->noTransformerReason());
    m_normsTrace = nullptr;
    return;
  }
  const ComputeResult& r = *m_session->result();
  const LayerTrace& trace = *r.trace;
  if (m_kind == Kind::AttentionDistance) {
    m_figure->setFigure(std::make_shared<AttentionDistanceFigure>(
                            trace.distances, trace.patchSize, trace.gridRows, trace.gridCols,
                            m_session->currentBlock(), m_session->head()),
                        QStringLiteral("attention-distance"));
    return;
  }
  if (m_normsTrace != &trace) {
    std::vector<const RowMatrixF*> layers;
    for (const RowMatrixF& l : trace.layers) layers.push_back(&l);
    m_norms = tokenNormsAcrossDepth(layers);
    m_normsTrace = &trace;
  }
  m_figure->setFigure(std::make_shared<TokenNormsFigure>(m_norms, trace.prefixNames, r.layerIndex,
                                                         ColormapId::Viridis),
                      QStringLiteral("token-norms"));
}

QRectF DepthFigurePanel::figureArea(qreal* scale) const {
  const auto& figure = m_figure->figure();
  *scale = 0;
  if (!figure) return {};
  const QSizeF preferred = figure->preferredSize();
  *scale = std::min(m_figure->width() / preferred.width(), m_figure->height() / preferred.height());
  if (*scale <= 0) return {};
  return {0, 0, m_figure->width() / *scale, m_figure->height() / *scale};
}

bool DepthFigurePanel::clickAt(const QPoint& position) {
  qreal scale = 0;
  const QRectF area = figureArea(&scale);
  if (scale <= 0 || !m_session->hasTransformer()) return false;
  const QPointF point = QPointF(position) / scale;
  if (m_kind == Kind::AttentionDistance) {
    const auto* figure = dynamic_cast<const AttentionDistanceFigure*>(m_figure->figure().get());
    if (!figure) return false;
    const auto hit = figure->hit(area, point);
    if (!hit) return false;
    m_session->setLayer(hit->block + 1);  // the layer that shows block b's output
    m_session->setHead(hit->head);
    return true;
  }
  // Token norms: the column under the click is a layer. The plot spans the figure's body;
  // a generous approximation of its x extent is enough for picking a column.
  const int layers = m_session->result()->trace->layerCount();
  const qreal left = area.width() * 0.1;
  const qreal right = area.width() * 0.83;
  if (point.x() < left || point.x() > right) return false;
  m_session->setLayer(std::clamp(int((point.x() - left) / (right - left) * layers), 0, layers - 1));
  return true;
}

QPoint DepthFigurePanel::dotPosition(int block, int head) const {
  qreal scale = 0;
  const QRectF area = figureArea(&scale);
  const auto* figure = dynamic_cast<const AttentionDistanceFigure*>(m_figure->figure().get());
  if (!figure || scale <= 0) return {};
  // Search the figure's own hit test for the pixel of that dot.
  for (int y = 0; y < m_figure->height(); y += 2) {
    for (int x = 0; x < m_figure->width(); x += 2) {
      const auto hit = figure->hit(area, QPointF(x, y) / scale);
      if (hit && hit->block == block && hit->head == head) return {x, y};
    }
  }
  return {};
}

bool DepthFigurePanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_figure && event->type() == QEvent::MouseButtonPress) {
    auto* mouse = static_cast<QMouseEvent*>(event);
    if (mouse->button() == Qt::LeftButton && clickAt(mouse->position().toPoint())) return true;
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace patchlens
