#pragma once

#include <QString>
#include <QStringList>
#include <QWidget>
#include <optional>
#include <vector>

#include "core/analysis/embedding_analysis.h"
#include "ui/base/colormap.h"

class QPainter;

namespace patchlens {

// What a colorbar shows: a colormap over a value range, with a caption.
struct ColorbarSpec {
  ColormapId colormap = ColormapId::Viridis;
  ValueRange range;
  QString label;
  bool integerTicks = false;
};

// About `maxTicks` round values (1, 2, 5 x 10^k steps) inside [lo, hi].
std::vector<double> niceTicks(double lo, double hi, int maxTicks);

// The width a vertical colorbar needs for its numbers and caption; with the colorbar's
// `height`, room for a second caption line when one line is shorter than the caption.
int colorbarWidth(const QFont& font, const ColorbarSpec& spec, int height = 0);
// The caption as painted along `length` px: one line, or two split at a word (" · " first)
// when one is too short; elided ("…") only when two lines are too short as well.
QStringList colorbarLabelLines(const QFontMetrics& fm, const QString& label, int length);
// `text` wrapped at spaces into lines no wider than `width` px, greedily (a word wider than
// `width` stands alone on its line, whole).
QStringList wrapWords(const QFontMetrics& fm, const QString& text, int width);
// The one paint path of a colorbar (screen and export): a vertical strip, ticks with
// numbers right of it and the caption rotated along the right edge.
void paintColorbar(QPainter& painter, const QRectF& rect, const ColorbarSpec& spec,
                   const QColor& textColor);

// A vertical colorbar next to a colour-coded view.
class ColorbarWidget : public QWidget {
  Q_OBJECT

 public:
  explicit ColorbarWidget(QWidget* parent = nullptr);

  void setSpec(const std::optional<ColorbarSpec>& spec);
  const std::optional<ColorbarSpec>& spec() const { return m_spec; }
  // The caption's lines as painted at the widget's current height.
  QStringList labelLines() const;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  std::optional<ColorbarSpec> m_spec;
};

}  // namespace patchlens
