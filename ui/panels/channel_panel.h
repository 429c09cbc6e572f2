#pragma once

#include <QWidget>

class QLabel;
class QListWidget;

namespace patchlens {

class HeatmapView;
class Session;

// The current channel: its filter (the C x P x P kernel as an RGB tile and per-colour
// tiles on one symmetric scale), its bias, its map over the grid and its top patches.
class ChannelPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ChannelPanel(Session* session, QWidget* parent = nullptr);

  QString headerText() const;

 private:
  void refresh();
  void refreshSelection();

  Session* m_session;
  QLabel* m_header;
  HeatmapView* m_filterRgb;
  HeatmapView* m_filterChannels;
  HeatmapView* m_map;
  QListWidget* m_topPatches;
};

}  // namespace patchlens
