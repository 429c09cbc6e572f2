#include "ui/panels/channel_panel.h"

#include <QLabel>
#include <QListWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>

#include "ui/base/qt_conversions.h"
#include "ui/session/session.h"
#include "ui/views/figure_menu.h"
#include "ui/views/heatmap_view.h"

namespace patchlens {

namespace {
constexpr int kTopPatches = 8;
constexpr int kThumbnail = 48;
}  // namespace

ChannelPanel::ChannelPanel(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("channelPanel"));
  auto* layout = new QVBoxLayout(this);
  m_header = new QLabel(this);
  m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_header->setWordWrap(true);
  layout->addWidget(m_header);

  // One above the other: side by side, a laptop's dock left the R | G | B strip a few pixels
  // tall and its colorbar without numbers.
  auto* filters = new QVBoxLayout;
  m_filterRgb = new HeatmapView(this);
  m_filterRgb->setTitle(tr("Filter (RGB)"));
  m_filterRgb->setMinimumHeight(130);
  m_filterChannels = new HeatmapView(this);
  m_filterChannels->setTitle(tr("Filter R | G | B"));
  m_filterChannels->setMinimumHeight(120);
  filters->addWidget(m_filterRgb, 1);
  filters->addWidget(m_filterChannels, 1);
  layout->addLayout(filters, 2);

  m_map = new HeatmapView(this);
  m_map->setObjectName(QStringLiteral("channelMap"));
  m_map->setMinimumHeight(150);
  m_map->setPreferredCellSize(14);
  m_map->setToolTipProvider([this](int row, int col) {
    const auto& result = m_session->result();
    if (!result) return QString();
    const int token = result->embedding.tokenIndex(row, col);
    return tr("row %1, col %2 · token %3: %4")
        .arg(row)
        .arg(col)
        .arg(token)
        .arg(result->embedding.tokens(token, m_session->channel()), 0, 'g', 4);
  });
  connect(m_map, &HeatmapView::cellClicked, this, [this](int row, int col) {
    m_session->setSelection({row, col});
  });
  layout->addWidget(m_map, 2);
  // Right-click on the map or the filter: Export… / Copy Image of the channel over the image.
  for (HeatmapView* view : {m_map, m_filterRgb, m_filterChannels}) {
    view->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(view, &QWidget::customContextMenuRequested, this, [this, view](QPoint pos) {
      const QString kind = QStringLiteral("channel:%1").arg(m_session->channel());
      FigureMenu::show(view, m_session, kind, FigureMenu::builderFor(m_session, kind),
                       view->mapToGlobal(pos));
    });
  }

  auto* topCaption = new QLabel(tr("Patches where this channel is largest:"), this);
  topCaption->setWordWrap(true);
  layout->addWidget(topCaption);
  m_topPatches = new QListWidget(this);
  m_topPatches->setObjectName(QStringLiteral("topPatches"));
  m_topPatches->setViewMode(QListView::IconMode);
  m_topPatches->setIconSize(QSize(kThumbnail, kThumbnail));
  m_topPatches->setResizeMode(QListView::Adjust);
  m_topPatches->setMovement(QListView::Static);
  m_topPatches->setMinimumHeight(kThumbnail + 2 * fontMetrics().height() + 16);
  m_topPatches->setWrapping(true);
  connect(m_topPatches, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) {
    const QPoint pos = item->data(Qt::UserRole).toPoint();
    m_session->setSelection({pos.y(), pos.x()});
  });
  layout->addWidget(m_topPatches, 1);

  connect(session, &Session::resultChanged, this, &ChannelPanel::refresh);
  connect(session, &Session::channelChanged, this, &ChannelPanel::refresh);
  connect(session, &Session::overlayChanged, this, &ChannelPanel::refresh);
  connect(session, &Session::selectionChanged, this, &ChannelPanel::refreshSelection);
  refresh();
}

QString ChannelPanel::headerText() const {
  return m_header->text();
}

void ChannelPanel::refresh() {
  const auto& result = m_session->result();
  if (!result) {
    m_header->setText(tr("No image"));
    m_filterRgb->setImage({});
    m_filterChannels->setImage({});
    m_map->setImage({});
    m_topPatches->clear();
    return;
  }
  const PatchWeights& weights = *result->weights;
  const int k = m_session->channel();
  const int p = weights.patchSize;
  const int c = weights.inChannels;
  const VectorF filter = weights.weight.row(k).transpose();
  const float bias = weights.hasBias() ? weights.bias(k) : 0.0f;
  const VectorStats filterStats = vectorStats(filter);
  m_header->setText(tr("<b>Channel %1</b> of %2 · bias %3 · filter L2 %4")
                        .arg(k)
                        .arg(weights.embedDim)
                        .arg(weights.hasBias() ? QString::number(bias, 'g', 4) : tr("none"))
                        .arg(filterStats.l2, 0, 'g', 4));

  // One symmetric scale for the whole kernel, so the colours compare across channels.
  const float maxAbs = std::max(filter.cwiseAbs().maxCoeff(), 1e-12f);
  const ValueRange range{-maxAbs, maxAbs};
  QImage rgb(p, p, QImage::Format_RGB32);
  const auto toByte = [&](float v) {
    return std::clamp(static_cast<int>((v / maxAbs * 0.5f + 0.5f) * 255.0f + 0.5f), 0, 255);
  };
  for (int y = 0; y < p; ++y) {
    for (int x = 0; x < p; ++x) {
      const auto at = [&](int ch) { return filter((ch * p + y) * p + x); };
      rgb.setPixel(x, y,
                   c == 3 ? qRgb(toByte(at(0)), toByte(at(1)), toByte(at(2)))
                          : qRgb(toByte(at(0)), toByte(at(0)), toByte(at(0))));
    }
  }
  m_filterRgb->setTitle(c == 3 ? tr("RGB") : tr("Filter"));
  m_filterRgb->setImage(rgb);

  const int width = c * (p + 1) - 1;
  VectorF tiles = VectorF::Constant(static_cast<Eigen::Index>(width) * p, 0.0f);
  for (int ch = 0; ch < c; ++ch) {
    for (int y = 0; y < p; ++y) {
      for (int x = 0; x < p; ++x)
        tiles(y * width + ch * (p + 1) + x) = filter((ch * p + y) * p + x);
    }
  }
  QImage channelImage = valuesToQImage(tiles, p, width, ColormapId::RdBu, range);
  for (int ch = 1; ch < c; ++ch) {
    for (int y = 0; y < p; ++y) channelImage.setPixel(ch * (p + 1) - 1, y, qRgba(0, 0, 0, 0));
  }
  m_filterChannels->setTitle(c == 3 ? tr("Filter R | G | B") : tr("Filter weights"));
  // A filter belongs to the patch embedding: deeper layers show the channel's map and top
  // patches only (issue 12).
  const bool atPatchEmbedding = result->layerIndex == 0;
  m_filterRgb->setVisible(atPatchEmbedding);
  m_filterChannels->setVisible(atPatchEmbedding);
  if (!atPatchEmbedding) {
    m_header->setText(tr("<b>Channel %1</b> of %2 · %3 (the filter is shown at the patch "
                         "embedding layer)")
                          .arg(k)
                          .arg(weights.embedDim)
                          .arg(m_session->sourceLayerName()));
  }
  m_filterChannels->setImage(channelImage,
                             ColorbarSpec{ColormapId::RdBu, range, tr("weight"), false});

  const GridSize grid = result->embedding.grid;
  const VectorF map = channelMap(result->embedding.tokens, k);
  const ColormapId colormap = m_session->colormapFor(OverlayKind::Channel);
  const ValueRange mapRange = m_session->rangeFor(map, m_session->scaleFor(OverlayKind::Channel));
  m_map->setTitle(tr("Channel %1 over the %2×%3 grid").arg(k).arg(grid.rows).arg(grid.cols));
  m_map->setImage(valuesToQImage(map, grid.rows, grid.cols, colormap, mapRange),
                  ColorbarSpec{colormap, mapRange, tr("channel %1").arg(k), false});
  refreshSelection();

  // The list's items are made once and updated in place: clearing and refilling it made
  // the icon view lay itself out again on every channel change.
  const std::vector<int> top = topByValue(map, kTopPatches);
  while (m_topPatches->count() > static_cast<int>(top.size())) delete m_topPatches->takeItem(0);
  while (m_topPatches->count() < static_cast<int>(top.size()))
    m_topPatches->addItem(new QListWidgetItem);
  for (int i = 0; i < static_cast<int>(top.size()); ++i) {
    const int token = top[static_cast<std::size_t>(i)];
    const PatchPos pos{token / grid.cols, token % grid.cols};
    const QImage thumb =
        result->input.copy(result->inputRect(pos))
            .scaled(kThumbnail, kThumbnail, Qt::IgnoreAspectRatio, Qt::FastTransformation);
    QListWidgetItem* item = m_topPatches->item(i);
    item->setIcon(QIcon(QPixmap::fromImage(thumb)));
    item->setText(tr("(%1, %2)\n%3").arg(pos.row).arg(pos.col).arg(map(token), 0, 'g', 3));
    item->setData(Qt::UserRole, QPoint(pos.col, pos.row));
    item->setToolTip(tr("%1, row %2, col %3: %4")
                         .arg(m_session->patchTokenName(token))
                         .arg(pos.row)
                         .arg(pos.col)
                         .arg(map(token), 0, 'g', 4));
  }
}

void ChannelPanel::refreshSelection() {
  const auto selection = m_session->selection();
  m_map->setMarkedCell(selection ? std::optional<QPoint>(QPoint(selection->col, selection->row))
                                 : std::nullopt);
}

}  // namespace patchlens
