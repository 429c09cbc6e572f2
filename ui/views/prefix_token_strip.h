#pragma once

#include <QColor>
#include <QWidget>
#include <array>
#include <optional>

#include "core/model/eigen_types.h"

namespace patchlens {

class Session;

// The prefix tokens (cls, dist, registers) beside the patch grid: one labelled cell each,
// showing the token's value under the current overlay as the patches show theirs — channel
// value, norm, mean, argmax channel, PCA → RGB colour (projected on the patches' components),
// similarity to the selected patch, attention from the query, rollout — with the number in
// the cell and in its tooltip. Clicking a cell makes that token the attention query. Hidden
// when the model has no prefix tokens.
class PrefixTokenStrip : public QWidget {
  Q_OBJECT

 public:
  explicit PrefixTokenStrip(Session* session, QWidget* parent = nullptr);

  // The cell of prefix token `index` in widget coordinates.
  QRect cellRect(int index) const;
  // The overlay's value for prefix token `index` (nullopt where the overlay has none; PCA
  // has a colour instead, see pcaRgb).
  std::optional<float> value(int index) const;
  // Under the PCA overlay: prefix token `index` projected on the layer's first three
  // principal components of the patch tokens, each scaled by the patches' min..max as the
  // image's PCA → RGB is (clamped to [0, 1]: a prefix token may lie outside that range).
  std::optional<QColor> pcaColour(int index) const;
  // Red, green, blue of pcaColour before rounding to 8 bits, in [0, 1].
  std::optional<std::array<float, 3>> pcaRgb(int index) const;
  // One line naming the token, the overlay and its value (the cell's tooltip).
  QString describe(int index) const;
  // The name drawn above cell `index`: "cls", or "cls key" when the overlay shows a block's
  // keys (queries, values): the strip's values are then the prefix tokens' keys.
  QString label(int index) const;
  // True when the cells show the prefix rows of a block's q, k or v rather than its tokens.
  bool showsSource() const;

  QSize sizeHint() const override;

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  void refresh();
  int count() const;
  // The prefix rows of the shown layer: its tokens, or the source's q / k / v rows.
  RowMatrixF prefixRows() const;
  int cellAt(const QPoint& position) const;
  int cellWidth() const;  // the widest label, at least one cell

  Session* m_session;
};

}  // namespace patchlens
