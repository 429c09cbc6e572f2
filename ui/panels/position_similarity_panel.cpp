#include "ui/panels/position_similarity_panel.h"

#include <QContextMenuEvent>
#include <QLabel>
#include <QMenu>
#include <QResizeEvent>
#include <QVBoxLayout>
#include <algorithm>

#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"
#include "ui/base/qt_conversions.h"
#include "ui/figures/position_similarity_figure.h"
#include "ui/session/analysis_cache.h"
#include "ui/views/figure_widget.h"
#include "ui/views/heatmap_view.h"

namespace patchlens {

namespace {
constexpr ColormapId kColormap = ColormapId::RdBu;  // cosine similarity is signed, 0 in the middle
}  // namespace

PositionSimilarityPanel::PositionSimilarityPanel(AnalysisCache* cache, QWidget* parent)
    : QWidget(parent), m_cache(cache), m_session(cache->session()) {
  m_message = new QLabel(this);
  m_message->setObjectName(QStringLiteral("positionMessage"));
  m_message->setWordWrap(true);
  m_message->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  m_message->setContentsMargins(6, 6, 6, 6);
  m_map = new HeatmapView(this);
  m_map->setObjectName(QStringLiteral("positionMap"));
  m_map->setAxisCaptions(tr("column"), tr("row"));
  m_map->setPreferredCellSize(24);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_message);
  layout->addWidget(m_map, 1);
  connect(m_cache, &AnalysisCache::changed, this, &PositionSimilarityPanel::refresh);
  connect(m_session, &Session::selectionChanged, this, [this] {
    m_localPosition.reset();
    refresh();
  });
  connect(m_session, &Session::resultChanged, this, &PositionSimilarityPanel::refresh);
  connect(m_map, &HeatmapView::cellClicked, this, &PositionSimilarityPanel::onCellClicked);
  refresh();
}

std::optional<PatchPos> PositionSimilarityPanel::shownPosition() const {
  return m_shown;
}

QString PositionSimilarityPanel::messageText() const {
  return m_message->text();
}

void PositionSimilarityPanel::refresh() {
  m_shown.reset();
  refreshContent();
  fitMessage();
}

void PositionSimilarityPanel::refreshContent() {
  const auto analyses = m_cache->analyses();
  const auto& result = m_session->result();
  if (!analyses || !result) {
    m_message->setText(tr("Open an image to see the position embeddings."));
    m_map->hide();
    return;
  }
  if (!analyses->positionDone) {
    m_message->setText(tr("Computing the position-embedding similarity…"));
    m_map->hide();
    return;
  }
  if (!analyses->positionSimilarity) {
    if (analyses->positionError.isEmpty() && result->model) {
      // A RoPE or relative-bias family has no table by design: say how it encodes positions
      // instead of suggesting another file.
      const TransformerWeights& w = *result->model->weights();
      const QString family = toQString(w.config.family);
      if (w.rope) {
        m_message->setText(
            tr("%1 has no position table: it encodes positions by rotating the queries and keys "
               "of the patches (RoPE) in every block's attention, so its positions show only "
               "through attention (the Attention and Attention distance docks).")
                .arg(family));
        m_map->hide();
        return;
      }
      if (!w.config.relativePositionBias.empty()) {
        m_message->setText(
            tr("%1 has no absolute position table: it adds a learned relative position bias "
               "(%2) to every block's attention logits, so its positions show only through "
               "attention (the Attention and Attention distance docks).")
                .arg(family, toQString(w.config.relativePositionBias)));
        m_map->hide();
        return;
      }
    }
    m_message->setText(
        analyses->positionError.isEmpty()
            ? tr("These weights have no position embedding (weights: %1). Initialised weights and "
                 "bare patch-embedding files carry none; open a pretrained weight file (timm, "
                 "Hugging "
                 "Face, torchvision, CLIP, Google npz) to see how its positions relate.")
                  .arg(toQString(analyses->weights->description))
            : tr("The position embedding cannot be shown: %1").arg(analyses->positionError));
    m_map->hide();
    return;
  }
  const PositionSimilarity& sim = *analyses->positionSimilarity;
  const GridSize grid = result->embedding.grid;
  const bool sameGrid = grid.rows == sim.gridRows && grid.cols == sim.gridCols;
  PatchPos pos{sim.gridRows / 2, sim.gridCols / 2};
  const auto selection = m_session->selection();
  if (m_localPosition &&
      (m_localPosition->row >= sim.gridRows || m_localPosition->col >= sim.gridCols)) {
    m_localPosition.reset();  // clicked on another weight set's grid
  }
  if (m_localPosition) {
    pos = *m_localPosition;
  } else if (selection && sameGrid) {
    pos = *selection;
  } else if (selection && grid.rows > 0 && grid.cols > 0) {
    // Another grid than the one the table was trained for: the same relative place.
    pos = {std::min(sim.gridRows - 1, selection->row * sim.gridRows / grid.rows),
           std::min(sim.gridCols - 1, selection->col * sim.gridCols / grid.cols)};
  }
  m_shown = pos;
  const RowMatrixF map = sim.map(pos.row * sim.gridCols + pos.col);
  const Eigen::Map<const VectorF> values(map.data(), map.size());
  m_map->setImage(
      valuesToQImage(values, sim.gridRows, sim.gridCols, kColormap, ValueRange{-1.0f, 1.0f}),
      // "cosine": the message above says of what; a short dock (1024 x 700) cut the longer one.
      ColorbarSpec{kColormap, ValueRange{-1.0f, 1.0f}, tr("cosine"), false});
  m_map->setMarkedCell(QPoint(pos.col, pos.row));
  m_map->setTitle(tr("Position (%1, %2) vs all positions").arg(pos.row).arg(pos.col));
  m_map->setToolTipProvider([map](int row, int column) {
    return tr("row %1, col %2: cosine similarity %3")
        .arg(row)
        .arg(column)
        .arg(map(row, column), 0, 'f', 3);
  });
  m_map->show();
  QString text =
      tr("Cosine similarity of the learned position embedding of one patch position to all %1 × %2 "
         "positions. Click a cell (or a patch in the image) to move it.")
          .arg(sim.gridRows)
          .arg(sim.gridCols);
  if (!sameGrid) {
    text += QLatin1Char(' ') +
            tr("The table was trained for a %1 × %2 grid; the image has %3 × %4 patches, so the "
               "selection is mapped to the same relative place.")
                .arg(sim.gridRows)
                .arg(sim.gridCols)
                .arg(grid.rows)
                .arg(grid.cols);
  }
  m_message->setText(text);
}

void PositionSimilarityPanel::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  fitMessage();
}

void PositionSimilarityPanel::fitMessage() {
  // A dock does not lay out by height-for-width: keep the wrapped message whole by hand. The
  // label's own answer is at least its minimum height, so that is cleared first (else a
  // message wrapped in a narrow dock kept its 180 px when the dock widened, and crushed the map).
  m_message->setMinimumHeight(0);
  m_message->setMinimumHeight(m_message->heightForWidth(std::max(1, width())));
}

void PositionSimilarityPanel::onCellClicked(int row, int column) {
  const auto& result = m_session->result();
  const auto analyses = m_cache->analyses();
  if (!result || !analyses || !analyses->positionSimilarity) return;
  const GridSize grid = result->embedding.grid;
  if (grid.rows == analyses->positionSimilarity->gridRows &&
      grid.cols == analyses->positionSimilarity->gridCols) {
    m_session->setSelection({row, column});  // refreshes through selectionChanged
    return;
  }
  m_localPosition = PatchPos{row, column};
  refresh();
}

void PositionSimilarityPanel::contextMenuEvent(QContextMenuEvent* event) {
  const auto analyses = m_cache->analyses();
  if (!analyses || !analyses->positionSimilarity) return;
  const auto figure = [sim = analyses->positionSimilarity] {
    return std::make_shared<PositionSimilarityFigure>(*sim, kColormap);
  };
  QMenu menu(this);
  menu.addAction(tr("&Export…"), this, [this, figure] {
    FigureWidget::exportFigure(m_session, figure(), QStringLiteral("posembed"), window());
  });
  menu.addAction(tr("&Copy Image"), this, [figure] { FigureWidget::copyImage(*figure()); });
  menu.exec(event->globalPos());
}

}  // namespace patchlens
