#pragma once

#include <QWidget>
#include <optional>

namespace patchlens {

class Session;

// The prefix tokens (cls, dist, registers) beside the patch grid: one labelled cell each,
// coloured by the current overlay's value for that token where the overlay has one (channel,
// norm, mean, similarity, attention, rollout). Clicking a cell makes that token the
// attention query. Hidden when the model has no prefix tokens.
class PrefixTokenStrip : public QWidget {
  Q_OBJECT

 public:
  explicit PrefixTokenStrip(Session* session, QWidget* parent = nullptr);

  // The cell of prefix token `index` in widget coordinates.
  QRect cellRect(int index) const;
  // The overlay's value for prefix token `index` (nullopt where the overlay has none).
  std::optional<float> value(int index) const;

  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  void refresh();
  int count() const;

  Session* m_session;
};

}  // namespace patchlens
