#pragma once

#include <QWidget>
#include <optional>

#include "ui/session/session.h"

class QLabel;

namespace patchlens {

class AnalysisCache;
class HeatmapView;

// The cosine similarity of one patch position's learned position embedding to every other
// position, for the selected patch (click a cell, here or on the image, to move it); a plain
// message when the weights carry no position embedding.
class PositionSimilarityPanel : public QWidget {
  Q_OBJECT

 public:
  explicit PositionSimilarityPanel(AnalysisCache* cache, QWidget* parent = nullptr);

  // The position whose map is shown (in the position embedding's own grid), if any.
  std::optional<PatchPos> shownPosition() const;
  QString messageText() const;
  HeatmapView* mapView() const { return m_map; }

 protected:
  void contextMenuEvent(QContextMenuEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  void refresh();
  void refreshContent();
  void fitMessage();
  void onCellClicked(int row, int column);

  AnalysisCache* m_cache;
  Session* m_session;
  QLabel* m_message;
  HeatmapView* m_map;
  std::optional<PatchPos> m_localPosition;  // clicked here when the grids differ
  std::optional<PatchPos> m_shown;
};

}  // namespace patchlens
