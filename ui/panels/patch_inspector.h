#pragma once

#include <Eigen/Core>
#include <QWidget>

class QCustomPlot;
class QCPItemStraightLine;
class QLabel;
class QBoxLayout;
class QTableWidget;

namespace patchlens {

class HeatmapView;
class Session;

// The selected patch: its pixels, normalised channels, token vector as a tile and as a
// plot over the channel index, statistics and strongest channels. Clicking a channel
// anywhere here selects it.
class PatchInspector : public QWidget {
  Q_OBJECT

 public:
  explicit PatchInspector(Session* session, QWidget* parent = nullptr);

  // What is shown, for tests and status lines.
  int shownToken() const { return m_shownToken; }
  const Eigen::VectorXf& shownVector() const { return m_vector; }
  QString headerText() const;
  QTableWidget* topChannelsTable() const { return m_top; }
  QCustomPlot* plot() const { return m_plot; }

 protected:
  void resizeEvent(QResizeEvent* event) override;

 private:
  void refresh();
  void refreshChannelMarks();
  // The tile's image and legend: beside the top 10 in a narrow dock the table's swatches (same
  // colormap, same range) are its legend, and its own colorbar gives way to the cells.
  void showTile();

  Session* m_session;
  QLabel* m_header;
  QLabel* m_box;
  HeatmapView* m_pixels;
  HeatmapView* m_channels;
  HeatmapView* m_tile;
  QBoxLayout* m_tileRow;     // the tile beside its top 10 (in a narrow dock: the top 10 alone)
  bool m_tileBeside = true;  // false: the tile sits under the plot
  QCustomPlot* m_plot;
  QCPItemStraightLine* m_channelLine = nullptr;
  QLabel* m_stats;
  QTableWidget* m_top;
  int m_shownToken = -1;
  int m_tileCols = 1;
  int m_tileRows = 1;
  bool m_tileLegend = true;      // the tile draws its own colorbar
  bool m_replotPending = false;  // the graph's data changed since the last full replot
  Eigen::VectorXf m_vector;
};

}  // namespace patchlens
