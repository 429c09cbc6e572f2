#include "ui/views/embedding_matrix_view.h"

#include <QVBoxLayout>

#include "ui/session/session.h"
#include "ui/views/heatmap_view.h"
#include "ui/views/qt_conversions.h"

namespace patchlens {

EmbeddingMatrixView::EmbeddingMatrixView(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("embeddingMatrix"));
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  m_heatmap = new HeatmapView(this);
  m_heatmap->setKeepAspect(false);
  m_heatmap->setPreferredCellSize(1);
  m_heatmap->setMinimumHeight(140);
  m_heatmap->setAxisCaptions(tr("channel →"), tr("token ↓"));
  m_heatmap->setToolTipProvider([this](int token, int channel) {
    const auto& result = m_session->result();
    if (!result) return QString();
    const GridSize grid = result->embedding.grid;
    return tr("token %1 (row %2, col %3), channel %4: %5")
        .arg(token)
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
  const ScaleMode mode = m_session->scaleFor(OverlayKind::Channel);
  // The matrix is the whole embedding: its own range is the global one.
  const ValueRange range = mode == ScaleMode::Global
                               ? scaleRange(ScaleMode::MinMax, all, result->global)
                               : scaleRange(mode, all, result->global);
  m_heatmap->setTitle(
      tr("Embedding matrix: %1 tokens × %2 channels").arg(tokens.rows()).arg(tokens.cols()));
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
