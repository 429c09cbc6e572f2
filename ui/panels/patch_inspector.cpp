#include "ui/panels/patch_inspector.h"

#include <qcustomplot.h>

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/base/qt_conversions.h"
#include "ui/figures/figure.h"
#include "ui/session/session.h"
#include "ui/views/figure_menu.h"
#include "ui/views/heatmap_view.h"

namespace patchlens {

namespace {
constexpr int kTopChannels = 10;
}

PatchInspector::PatchInspector(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("patchInspector"));
  auto* layout = new QVBoxLayout(this);
  m_header = new QLabel(this);
  m_header->setWordWrap(true);
  m_header->setObjectName(QStringLiteral("inspectorHeader"));
  QFont bold = m_header->font();
  bold.setBold(true);
  m_header->setFont(bold);
  m_box = new QLabel(this);
  m_box->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_box->setWordWrap(true);  // a 4000-pixel photo's coordinates must not widen the dock
  layout->addWidget(m_header);
  layout->addWidget(m_box);

  auto* tiles = new QHBoxLayout;
  m_pixels = new HeatmapView(this);
  m_pixels->setTitle(tr("Pixels"));
  m_pixels->setMinimumHeight(90);
  m_channels = new HeatmapView(this);
  m_channels->setTitle(tr("Normalized R | G | B"));
  m_channels->setMinimumHeight(90);
  tiles->addWidget(m_pixels, 1);
  tiles->addWidget(m_channels, 3);
  layout->addLayout(tiles);

  m_tile = new HeatmapView(this);
  m_tile->setObjectName(QStringLiteral("tokenTile"));
  m_tile->setMinimumHeight(150);
  m_tile->setPreferredCellSize(8);
  m_tile->setToolTipProvider([this](int row, int col) {
    const int channel = row * m_tileCols + col;
    if (channel >= m_vector.size()) return QString();
    return tr("channel %1: %2").arg(channel).arg(m_vector(channel), 0, 'g', 4);
  });
  connect(m_tile, &HeatmapView::cellClicked, this, [this](int row, int col) {
    const int channel = row * m_tileCols + col;
    if (channel < m_vector.size()) m_session->setChannel(channel);
  });
  // The token's tile beside its top 10 (issue 21, defect 12): at 1366 x 768 the statistics
  // and the top 10 under the plot were below the fold of the dock's scroll area.
  m_tileRow = new QHBoxLayout;
  m_tileRow->addWidget(m_tile, 1);
  layout->addLayout(m_tileRow, 2);

  m_plot = new QCustomPlot(this);
  m_plot->setObjectName(QStringLiteral("tokenPlot"));
  m_plot->setMinimumHeight(110);
  m_plot->addGraph();
  m_plot->graph(0)->setPen(QPen(QColor(31, 119, 180), 1));
  m_plot->xAxis->setLabel(tr("channel"));
  m_plot->yAxis->setLabel(tr("value"));
  m_plot->yAxis->ticker()->setTickCount(5);
  // The channel marker on a layer of its own with its own buffer: a channel change
  // repaints that layer alone, not the 768-point graph and the axes.
  m_plot->addLayer(QStringLiteral("marks"), m_plot->layer(QStringLiteral("main")),
                   QCustomPlot::limAbove);
  m_plot->layer(QStringLiteral("marks"))->setMode(QCPLayer::lmBuffered);
  m_channelLine = new QCPItemStraightLine(m_plot);
  m_channelLine->setLayer(QStringLiteral("marks"));
  m_channelLine->setPen(QPen(QColor(214, 39, 40), 1, Qt::DashLine));
  connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent* event) {
    // Only a left click picks a channel: the right button opens the menu and selects nothing.
    if (m_vector.size() == 0 || event->button() != Qt::LeftButton) return;
    const double x = m_plot->xAxis->pixelToCoord(event->position().x());
    m_session->setChannel(static_cast<int>(std::lround(x)));
  });

  // Right-click: Export… / Copy Image of the selected token as a tile or as a line.
  const auto addFigureMenu = [this](QWidget* view, const QString& prefix) {
    view->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(view, &QWidget::customContextMenuRequested, this, [this, view, prefix](QPoint pos) {
      const auto sel = m_session->selection();
      const QString kind =
          sel ? QStringLiteral("%1:%2,%3").arg(prefix).arg(sel->row).arg(sel->col) : QString();
      FigureMenu::show(view, m_session, kind,
                       sel ? FigureMenu::builderFor(m_session, kind)
                           : FigureMenu::Builder([] { return std::shared_ptr<const Figure>(); }),
                       view->mapToGlobal(pos));
    });
  };
  for (QWidget* view : {static_cast<QWidget*>(m_pixels), static_cast<QWidget*>(m_channels),
                        static_cast<QWidget*>(m_tile)})
    addFigureMenu(view, QStringLiteral("token"));
  addFigureMenu(m_plot, QStringLiteral("token-line"));

  m_stats = new QLabel(this);
  m_stats->setObjectName(QStringLiteral("inspectorStats"));
  m_stats->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_stats->setWordWrap(true);  // five statistics do not fit a laptop's dock on one line
  layout->addWidget(m_stats);
  layout->addWidget(m_plot, 2);

  m_top = new QTableWidget(0, 3, this);
  m_top->setObjectName(QStringLiteral("topChannels"));
  // "#" (rank, by |value|): a narrow column leaves the tile beside the table more room.
  m_top->setHorizontalHeaderLabels({tr("#"), tr("Channel"), tr("Value")});
  m_top->horizontalHeaderItem(0)->setToolTip(tr("Rank by |value|"));
  m_top->verticalHeader()->hide();
  m_top->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 4);
  // All ten rows without a scroll bar: the header, ten rows and the frame.
  m_top->setMinimumHeight(m_top->horizontalHeader()->sizeHint().height() +
                          (fontMetrics().height() + 4) * kTopChannels + 2 * m_top->frameWidth() +
                          2);
  m_top->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_top->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_top->setSelectionMode(QAbstractItemView::SingleSelection);
  // As narrow as its texts: the tile beside it takes the rest of the dock's width.
  m_top->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_top->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  m_top->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
  m_top->setSizePolicy(QSizePolicy::Maximum, QSizePolicy::Expanding);
  m_top->setToolTip(tr("The 10 channels with the largest |value|; click one to select it"));
  connect(m_top, &QTableWidget::cellClicked, this, [this](int row, int /*column*/) {
    if (auto* item = m_top->item(row, 1)) m_session->setChannel(item->data(Qt::UserRole).toInt());
  });
  m_tileRow->addWidget(m_top, 0, Qt::AlignTop);

  connect(session, &Session::resultChanged, this, &PatchInspector::refresh);
  connect(session, &Session::selectionChanged, this, &PatchInspector::refresh);
  connect(session, &Session::overlayChanged, this, &PatchInspector::refresh);
  connect(session, &Session::channelChanged, this, &PatchInspector::refreshChannelMarks);
  refresh();
}

QString PatchInspector::headerText() const {
  return m_header->text();
}

void PatchInspector::refresh() {
  const auto& result = m_session->result();
  const int token = m_session->selectedToken();
  m_shownToken = token;
  // Nothing selected: one hint (the header), not empty tiles and axes saying it five times.
  const bool shown = result && token >= 0;
  for (QWidget* part : {static_cast<QWidget*>(m_box), static_cast<QWidget*>(m_pixels),
                        static_cast<QWidget*>(m_channels), static_cast<QWidget*>(m_tile),
                        static_cast<QWidget*>(m_plot), static_cast<QWidget*>(m_stats),
                        static_cast<QWidget*>(m_top)})
    part->setVisible(shown);
  if (!shown) {
    m_header->setText(result ? tr("No patch selected: click a patch in the image (or press an "
                                  "arrow key) to see its token here.")
                             : tr("No image: open one with File ▸ Open Image…"));
    m_box->clear();
    m_vector.resize(0);
    m_pixels->setImage({});
    m_channels->setImage({});
    m_tile->setImage({});
    m_plot->graph(0)->data()->clear();
    // An empty plot keeps the real channel axis rather than QCustomPlot's default 0..5.
    m_channelLine->setVisible(false);
    if (result) m_plot->xAxis->setRange(-0.5, result->embedDim() - 0.5);
    m_plot->yAxis->setRange(-1.0, 1.0);
    m_plot->replot();
    m_stats->clear();
    m_top->setRowCount(0);
    return;
  }
  const PatchPos pos = *m_session->selection();
  const int p = result->patchSize();
  const int d = result->embedDim();
  m_channelLine->setVisible(true);
  m_vector = result->embedding.tokens.row(token).transpose();
  // The layer and source it is read at: "… · Keys, block 6" (issue 21).
  m_header->setText(tr("%1 · row %2, col %3 of %4×%5%6")
                        .arg(m_session->patchTokenName(token))
                        .arg(pos.row)
                        .arg(pos.col)
                        .arg(result->embedding.grid.rows)
                        .arg(result->embedding.grid.cols)
                        .arg(m_session->hasTransformer()
                                 ? QStringLiteral(" · ") + m_session->sourceLayerName()
                                 : QString()));
  const QRect inputBox = result->inputRect(pos);
  const QRectF sourceBox = result->sourceRect(pos);
  m_box->setText(tr("Input pixels x %1–%2, y %3–%4\nOriginal x %5–%6, y %7–%8")
                     .arg(inputBox.left())
                     .arg(inputBox.left() + p)
                     .arg(inputBox.top())
                     .arg(inputBox.top() + p)
                     .arg(sourceBox.left(), 0, 'f', 1)
                     .arg(sourceBox.right(), 0, 'f', 1)
                     .arg(sourceBox.top(), 0, 'f', 1)
                     .arg(sourceBox.bottom(), 0, 'f', 1));

  m_pixels->setImage(result->input.copy(inputBox));

  // The normalised channels side by side, one column of gap, on one symmetric scale.
  const int c = result->tensor.channels;
  VectorF values = VectorF::Constant(static_cast<Eigen::Index>(c * (p + 1) - 1) * p,
                                     std::numeric_limits<float>::quiet_NaN());
  const int width = c * (p + 1) - 1;
  for (int ch = 0; ch < c; ++ch) {
    const RowMatrixF patch = tensorPatch(result->tensor, ch, inputBox.left(), inputBox.top(), p);
    for (int y = 0; y < p; ++y) {
      for (int x = 0; x < p; ++x) values(y * width + ch * (p + 1) + x) = patch(y, x);
    }
  }
  float maxAbs = 0.0f;
  for (Eigen::Index i = 0; i < values.size(); ++i) {
    if (!std::isnan(values(i))) maxAbs = std::max(maxAbs, std::abs(values(i)));
  }
  const ValueRange pixelRange{-std::max(maxAbs, 1e-6f), std::max(maxAbs, 1e-6f)};
  QImage channelImage = valuesToQImage(values, p, width, ColormapId::RdBu, pixelRange);
  for (int ch = 1; ch < c; ++ch) {
    for (int y = 0; y < p; ++y) channelImage.setPixel(ch * (p + 1) - 1, y, qRgba(0, 0, 0, 0));
  }
  m_channels->setTitle(c == 3 ? tr("Normalized R | G | B") : tr("Normalized channel"));
  m_channels->setImage(channelImage, ColorbarSpec{ColormapId::RdBu, pixelRange, {}, false});

  const TileShape shape = heatmapTileShape(d);
  m_tileCols = shape.cols;
  m_tileRows = shape.rows;
  const ColormapId map = m_session->colormapFor(OverlayKind::Channel);
  const ValueRange range = m_session->rangeFor(m_vector, m_session->scaleFor(OverlayKind::Channel));
  showTile();

  QVector<double> xs(d);
  QVector<double> ys(d);
  for (int i = 0; i < d; ++i) {
    xs[i] = i;
    ys[i] = static_cast<double>(m_vector(i));
  }
  m_plot->graph(0)->setData(xs, ys, true);
  m_plot->xAxis->setRange(-0.5, d - 0.5);
  m_plot->graph(0)->rescaleValueAxis(false, true);
  m_replotPending = true;

  const VectorStats stats = vectorStats(m_vector);
  m_stats->setText(tr("min %1 · max %2 · mean %3 · std %4 · L2 %5")
                       .arg(stats.min, 0, 'g', 4)
                       .arg(stats.max, 0, 'g', 4)
                       .arg(stats.mean, 0, 'g', 4)
                       .arg(stats.std, 0, 'g', 4)
                       .arg(stats.l2, 0, 'g', 4));

  // The ten rows are made once and their texts updated in place: no rows inserted or
  // removed, so the table does not lay itself out again on every click.
  const std::vector<int> top = topByMagnitude(m_vector, kTopChannels);
  if (m_top->rowCount() != static_cast<int>(top.size())) {
    m_top->setRowCount(static_cast<int>(top.size()));
    for (int i = 0; i < m_top->rowCount(); ++i) {
      m_top->setItem(i, 0, new QTableWidgetItem(QString::number(i + 1)));
      m_top->setItem(i, 1, new QTableWidgetItem);
      m_top->setItem(i, 2, new QTableWidgetItem);
    }
  }
  for (int i = 0; i < static_cast<int>(top.size()); ++i) {
    const int channel = top[static_cast<std::size_t>(i)];
    QTableWidgetItem* channelItem = m_top->item(i, 1);
    channelItem->setText(QString::number(channel));
    channelItem->setData(Qt::UserRole, channel);
    QTableWidgetItem* value = m_top->item(i, 2);
    value->setText(QString::number(m_vector(channel), 'g', 4));
    // Text in the normal colour, the colormap's colour as a swatch beside it: pale colours
    // (viridis' yellow, RdBu's near-white middle) stay readable.
    value->setData(Qt::DecorationRole, colormapColor(map, m_vector(channel), range));
  }
  refreshChannelMarks();
}

void PatchInspector::showTile() {
  if (m_vector.size() == 0) return;
  const ColormapId map = m_session->colormapFor(OverlayKind::Channel);
  const ValueRange range = m_session->rangeFor(m_vector, m_session->scaleFor(OverlayKind::Channel));
  const QImage cells = valuesToQImage(m_vector, m_tileRows, m_tileCols, map, range);
  if (m_tileLegend) {
    m_tile->setTitle(tr("%1×%2 tile · channel = row·%2 + col").arg(m_tileRows).arg(m_tileCols));
    m_tile->setImage(cells, ColorbarSpec{map, range, tr("value"), false});
  } else {
    m_tile->setTitle(
        tr("%1×%2 tile · channel = row·%2 + col · key: the table").arg(m_tileRows).arg(m_tileCols));
    m_tile->setImage(cells);
  }
}

void PatchInspector::refreshChannelMarks() {
  if (m_vector.size() == 0) return;
  const int channel = m_session->channel();
  m_tile->setMarkedCell(QPoint(channel % m_tileCols, channel / m_tileCols));
  m_channelLine->point1->setCoords(channel, 0);
  m_channelLine->point2->setCoords(channel, 1);
  if (m_replotPending) {
    m_plot->replot(QCustomPlot::rpQueuedReplot);  // new data: the whole plot, once
    m_replotPending = false;
  } else {
    m_plot->layer(QStringLiteral("marks"))->replot();  // the marker's layer alone
  }
  for (int row = 0; row < m_top->rowCount(); ++row) {
    if (m_top->item(row, 1)->data(Qt::UserRole).toInt() == channel) {
      m_top->selectRow(row);
      return;
    }
  }
  m_top->clearSelection();
}

void PatchInspector::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  // Beside the top 10 the tile needs room to be read (24 x 32 cells at about 3 px); in a
  // narrower dock it moves under the plot, where it has the dock's width, and the top 10 and
  // the statistics stay above the fold. 1024 x 700 and the 1366 x 768 Transformer layout leave
  // it 95 to 130 px beside the table (with the "#" column).
  constexpr int kTileMinWidth = 90;
  // Under 220 px beside the table (the 1366 x 768 Transformer layout), a colorbar would take
  // half the tile: the table's swatches beside it are the legend.
  constexpr int kTileLegendWidth = 220;
  const int room = width() - m_top->sizeHint().width();
  const bool beside = room >= kTileMinWidth;
  const bool legend = !beside || room >= kTileLegendWidth;
  if (legend != m_tileLegend) {
    m_tileLegend = legend;
    showTile();
  }
  if (beside == m_tileBeside) return;
  m_tileBeside = beside;
  auto* column = static_cast<QVBoxLayout*>(layout());
  if (beside) {
    column->removeWidget(m_tile);
    m_tileRow->insertWidget(0, m_tile, 1);
  } else {
    m_tileRow->removeWidget(m_tile);
    column->addWidget(m_tile, 2);
  }
}

}  // namespace patchlens
