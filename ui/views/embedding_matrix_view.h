#pragma once

#include <QWidget>

namespace patchlens {

class HeatmapView;
class Session;

// The whole N x D embedding as a heatmap (tokens down, channels across), with the
// selected token's row and the current channel's column marked. A click selects both.
class EmbeddingMatrixView : public QWidget {
  Q_OBJECT

 public:
  explicit EmbeddingMatrixView(Session* session, QWidget* parent = nullptr);

  HeatmapView* heatmap() const { return m_heatmap; }

 private:
  void rebuild();
  void refreshMarks();

  Session* m_session;
  HeatmapView* m_heatmap;
};

}  // namespace patchlens
