#include "ui/panels/attention_panel.h"

#include <QEvent>
#include <QLabel>
#include <QMouseEvent>
#include <QVBoxLayout>

#include "core/analysis/attention_maps.h"
#include "ui/base/color_scale.h"
#include "ui/figures/attention_heads_figure.h"
#include "ui/session/session.h"
#include "ui/views/figure_widget.h"

namespace patchlens {

AttentionPanel::AttentionPanel(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("attentionPanel"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  m_header = new QLabel(this);
  m_header->setWordWrap(true);
  layout->addWidget(m_header);
  m_figure = new FigureWidget(session, this);
  m_figure->setObjectName(QStringLiteral("attentionHeads"));
  m_figure->setMinimumSize(260, 220);
  m_figure->installEventFilter(this);
  m_figure->setCursor(Qt::PointingHandCursor);
  layout->addWidget(m_figure, 1);
  connect(session, &Session::resultChanged, this, &AttentionPanel::rebuild);
  connect(session, &Session::attentionChanged, this, &AttentionPanel::rebuild);
  rebuild();
}

void AttentionPanel::rebuild() {
  if (!m_session->hasTransformer()) {
    m_current.reset();
    m_figure->setFigure(nullptr);
    m_header->clear();
    m_figure->setPlaceholder(m_session->noTransformerReason());
    return;
  }
  const ComputeResult& r = *m_session->result();
  const LayerTrace& trace = *r.trace;
  const int block = m_session->currentBlock();
  const auto* heads = m_session->currentAttention();
  m_header->setText(tr("Query <b>%1</b> · block %2 (layer: %3) · click a patch or a prefix "
                       "token to query it, a head to select it")
                        .arg(m_session->queryName())
                        .arg(block)
                        .arg(m_session->layerName(r.layerIndex)));
  if (!heads) {
    m_current.reset();
    m_figure->setFigure(nullptr);
    m_figure->setPlaceholder(tr("Computing the attention of block %1…").arg(block));
    return;
  }
  const int query = m_session->queryToken();
  RowMatrixF maps(static_cast<Eigen::Index>(heads->size()), trace.patches());
  for (std::size_t h = 0; h < heads->size(); ++h)
    maps.row(static_cast<Eigen::Index>(h)) =
        patchAttention((*heads)[h], query, trace.prefixTokens).transpose();
  const int patch = query - trace.prefixTokens;
  // The overlay's colormap and colour scale (one colour for one probability everywhere).
  const ColorScale scale = attentionColorScale(m_session->scaleFor(OverlayKind::Attention), maps);
  m_current = std::make_shared<AttentionHeadsFigure>(
      std::move(maps), trace.distances.row(block - 1).transpose(),
      GridSize{trace.gridRows, trace.gridCols}, tr("block %1").arg(block), m_session->queryName(),
      patch >= 0 ? patch / trace.gridCols : -1, patch >= 0 ? patch % trace.gridCols : -1,
      m_session->head(), m_session->colormapFor(OverlayKind::Attention), scale);
  m_figure->setFigure(m_current, QStringLiteral("attention-heads:%1").arg(block));
}

std::optional<int> AttentionPanel::headAt(const QPoint& position) const {
  if (!m_current) return std::nullopt;
  // The placement and layout paintEvent draws with: a click selects the tile drawn under it.
  const FigureWidget::Placement place = m_figure->placement();
  if (!place.valid()) return std::nullopt;
  return m_current->headAt(m_current->layout(place.area), place.toFigure(QPointF(position)));
}

bool AttentionPanel::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_figure && event->type() == QEvent::MouseButtonPress) {
    auto* mouse = static_cast<QMouseEvent*>(event);
    if (mouse->button() == Qt::LeftButton) {
      if (const auto head = headAt(mouse->position().toPoint())) {
        m_session->setHead(*head);
        return true;
      }
    }
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace patchlens
