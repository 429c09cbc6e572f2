#include "ui/views/embedding_matrix_view.h"

#include <QPointer>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "ui/base/qt_conversions.h"
#include "ui/session/session.h"
#include "ui/views/figure_menu.h"
#include "ui/views/heatmap_view.h"
#include "ui/views/widget_figure.h"

namespace patchlens {

EmbeddingMatrixView::EmbeddingMatrixView(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("embeddingMatrix"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  m_heatmap = new HeatmapView(this);
  m_heatmap->setKeepAspect(false);
  m_heatmap->setPreferredCellSize(1);
  m_heatmap->setMinimumHeight(200);
  m_heatmap->setAxisTicks(true);
  m_heatmap->setAxisCaptions(tr("channel →"), tr("token ↓"));  // rebuild() names the source
  m_heatmap->setToolTipProvider([this](int token, int channel) {
    const auto& result = m_session->result();
    if (!result) return QString();
    const GridSize grid = result->embedding.grid;
    return tr("%1 (row %2, col %3), channel %4: %5")
        .arg(m_session->patchTokenName(token))
        .arg(token / grid.cols)
        .arg(token % grid.cols)
        .arg(channel)
        .arg(result->embedding.tokens(token, channel), 0, 'g', 4);
  });
  connect(m_heatmap, &HeatmapView::cellClicked, this, [this](int token, int channel) {
    const auto& result = m_session->result();
    if (!result) return;
    const int cols = result->embedding.grid.cols;
    m_session->setChannel(channel);
    m_session->setSelection({token / cols, token % cols});
  });
  layout->addWidget(m_heatmap);
  // Right-click: Export… / Copy Image of the matrix as drawn (its own paint path).
  m_heatmap->setContextMenuPolicy(Qt::CustomContextMenu);
  connect(m_heatmap, &QWidget::customContextMenuRequested, this, [this](QPoint pos) {
    const QPointer<const HeatmapView> view(m_heatmap);
    const QSizeF size(std::max(m_heatmap->width(), 640), std::max(m_heatmap->height(), 400));
    // The exported figure names its layer as the on-screen title does.
    const auto& shown = m_session->result();
    const QString title = shown ? tr("Embedding matrix, %1").arg(m_session->sourceLayerName())
                                : tr("Embedding matrix");
    FigureMenu::show(
        m_heatmap, m_session, QString(),
        [view, size, title]() -> std::shared_ptr<const Figure> {
          if (!view) return nullptr;
          return std::make_shared<WidgetFigure>(title, size,
                                                [view](QPainter& painter, const QRectF& area) {
                                                  if (view) view->paint(painter, area);
                                                });
        },
        m_heatmap->mapToGlobal(pos));
  });
  connect(session, &Session::resultChanged, this, &EmbeddingMatrixView::rebuild);
  connect(session, &Session::overlayChanged, this, &EmbeddingMatrixView::rebuild);
  connect(session, &Session::selectionChanged, this, &EmbeddingMatrixView::refreshMarks);
  connect(session, &Session::channelChanged, this, &EmbeddingMatrixView::refreshMarks);
  rebuild();
}

void EmbeddingMatrixView::rebuild() {
  const auto& result = m_session->result();
  if (!result) {
    m_heatmap->setImage({});
    return;
  }
  const RowMatrixF& tokens = result->embedding.tokens;
  const ColormapId map = m_session->colormapFor(OverlayKind::Channel);
  const Eigen::Map<const VectorF> all(tokens.data(), tokens.size());
  // Automatic scale: the 2–98 % percentiles of the whole matrix. Its min / max is set by a
  // few outlying channels (channel 0 of the DCT basis, the brightness, spans ±25 where the
  // rest stay within ±2) and would leave every other channel blank.
  const ScaleMode mode = m_session->scaleChoice().value_or(ScaleMode::Percentile);
  ValueRange range = mode == ScaleMode::Global ? scaleRange(ScaleMode::MinMax, all, result->global)
                                               : scaleRange(mode, all, result->global);
  if (!m_session->scaleChoice() && Colormap::get(map).isDiverging()) {
    const float m = std::max(std::abs(range.lo), std::abs(range.hi));  // 0 in the middle
    if (m > 0) range = ValueRange{-m, m};
  }

  // "Keys, block 6: 196 keys × 768 channels" when the token views show a block's keys.
  m_heatmap->setTitle(tr("Embedding matrix, %1: %2 %3 × %4 channels · scale %5")
                          .arg(m_session->sourceLayerName())
                          .arg(tokens.rows())
                          .arg(m_session->rowNoun(true))
                          .arg(tokens.cols())
                          .arg(scaleModeKey(mode)));
  m_heatmap->setAxisCaptions(tr("channel →"), m_session->rowNoun(false) + tr(" ↓"));
  m_heatmap->setImage(matrixToQImage(tokens, map, range),
                      ColorbarSpec{map, range, tr("value"), false});
  refreshMarks();
}

void EmbeddingMatrixView::refreshMarks() {
  const int token = m_session->selectedToken();
  m_heatmap->setMarkedRow(token >= 0 ? std::optional<int>(token) : std::nullopt);
  m_heatmap->setMarkedColumn(m_session->hasResult() ? std::optional<int>(m_session->channel())
                                                    : std::nullopt);
}

}  // namespace patchlens
