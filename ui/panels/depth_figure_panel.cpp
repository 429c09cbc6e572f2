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

bool DepthFigurePanel::clickAt(const QPoint& position) {
  const FigureWidget::Placement place = m_figure->placement();
  if (!place.valid() || !m_session->hasTransformer()) return false;
  const QPointF point = place.toFigure(QPointF(position));
  if (m_kind == Kind::AttentionDistance) {
    const auto* figure = dynamic_cast<const AttentionDistanceFigure*>(m_figure->figure().get());
    if (!figure) return false;
    // The placement and layout paintEvent draws with: a click selects the dot drawn under it.
    const auto hit = figure->hit(figure->layout(place.area), point);
    if (!hit) return false;
    m_session->setLayer(hit->block + 1);  // the layer that shows block b's output
    m_session->setHead(hit->head);
    return true;
  }
  const auto* figure = dynamic_cast<const TokenNormsFigure*>(m_figure->figure().get());
  if (!figure) return false;
  const auto layer = figure->layerAt(place.area, point);
  if (!layer) return false;
  m_session->setLayer(*layer);
  return true;
}

QPoint DepthFigurePanel::dotPosition(int block, int head) const {
  const FigureWidget::Placement place = m_figure->placement();
  const auto* figure = dynamic_cast<const AttentionDistanceFigure*>(m_figure->figure().get());
  if (!figure || !place.valid()) return {};
  const AttentionDistanceFigure::Layout layout = figure->layout(place.area);
  const int heads = m_session->result()->trace->heads;
  const std::size_t i = static_cast<std::size_t>((block - 1) * heads + head);
  if (block < 1 || head < 0 || head >= heads || i >= layout.dots.size()) return {};
  return place.toWidget(layout.dots[i]).toPoint();
}

bool DepthFigurePanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_figure && event->type() == QEvent::MouseButtonPress) {
    auto* mouse = static_cast<QMouseEvent*>(event);
    if (mouse->button() == Qt::LeftButton && clickAt(mouse->position().toPoint())) return true;
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace patchlens
