#include "ui/panels/attention_panel.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QVBoxLayout>

#include "core/analysis/attention_maps.h"
#include "core/io/error.h"
#include "ui/base/color_scale.h"
#include "ui/figures/attention_heads_figure.h"
#include "ui/figures/plot_kind.h"
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
  auto* massRow = new QHBoxLayout;
  massRow->setContentsMargins(0, 0, 0, 0);
  m_massBox = new QCheckBox(tr("&Mass threshold"), this);
  m_massBox->setObjectName(QStringLiteral("massThresholdBox"));
  m_massBox->setToolTip(
      tr("DINO's masks: each head's patches holding this share of its attention mass, in red "
         "over the image"));
  m_massSpin = new QDoubleSpinBox(this);
  m_massSpin->setObjectName(QStringLiteral("massThresholdSpin"));
  m_massSpin->setRange(0.05, 1.0);
  m_massSpin->setSingleStep(0.05);
  m_massSpin->setDecimals(2);
  m_massSpin->setValue(PlotKind::kDefaultMassThreshold);
  m_massSpin->setEnabled(false);
  massRow->addWidget(m_massBox);
  massRow->addWidget(m_massSpin);
  massRow->addStretch(1);
  layout->addLayout(massRow);
  const auto changed = [this] {
    m_massSpin->setEnabled(m_massBox->isChecked());
    m_session->setAttentionMass(massThreshold());
    rebuild();
  };
  connect(m_massBox, &QCheckBox::toggled, this, changed);
  connect(m_massSpin, &QDoubleSpinBox::valueChanged, this, changed);
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
  const std::optional<float> mass = massThreshold();
  std::optional<AttentionHeadsFigure::MassMask> mask;
  if (mass) mask = AttentionHeadsFigure::MassMask{r.input, trace.patchSize, *mass};
  try {
    m_current = std::make_shared<AttentionHeadsFigure>(
        std::move(maps), trace.distances.row(block - 1).transpose(),
        GridSize{trace.gridRows, trace.gridCols}, tr("block %1").arg(block), m_session->queryName(),
        patch >= 0 ? patch / trace.gridCols : -1, patch >= 0 ? patch % trace.gridCols : -1,
        m_session->head(), m_session->colormapFor(OverlayKind::Attention), scale, std::move(mask));
  } catch (const Error& e) {
    m_current.reset();
    m_figure->setFigure(nullptr);
    m_figure->setPlaceholder(QString::fromStdString(e.reason()));
    return;
  }
  PlotKind kind{mass ? PlotType::AttentionMask : PlotType::AttentionHeads, block, 0};
  if (mass) kind.threshold = *mass;
  m_figure->setFigure(m_current, QString::fromStdString(kind.name()));
}

void AttentionPanel::setMassThreshold(std::optional<float> threshold) {
  if (threshold) m_massSpin->setValue(*threshold);
  m_massBox->setChecked(threshold.has_value());
}

std::optional<float> AttentionPanel::massThreshold() const {
  if (!m_massBox->isChecked()) return std::nullopt;
  return static_cast<float>(m_massSpin->value());
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
