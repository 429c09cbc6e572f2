#pragma once

#include <QWidget>
#include <memory>
#include <optional>

namespace patchlens {

class AnalysisCache;
class Session;

// Every filter of the patch embedding as an enlarged P x P tile in a grid that reflows with
// the width (meant for a QScrollArea). Clicking a tile selects its channel in the session;
// the current channel is outlined. Right-click exports the "filters" figure or copies it.
class FilterGalleryView : public QWidget {
  Q_OBJECT

 public:
  FilterGalleryView(AnalysisCache* cache, QWidget* parent = nullptr);

  int filterCount() const;
  int columns() const;
  // The tile of filter `index` in widget coordinates (empty when out of range).
  QRect tileRect(int index) const;
  std::optional<int> filterAt(const QPoint& position) const;

  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int width) const override;
  QSize sizeHint() const override;

 signals:
  // The current channel's tile moved (new channel or reflow), for scrolling it into view.
  void currentTileChanged(const QRect& rect);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void contextMenuEvent(QContextMenuEvent* event) override;
  bool event(QEvent* event) override;

 private:
  int tileSize() const;
  int columnsFor(int width) const;
  void updateHeight();

  AnalysisCache* m_cache;
  Session* m_session;
};

}  // namespace patchlens
