#pragma once

#include <QImage>
#include <QSize>
#include <QSizeF>
#include <QString>
#include <optional>

#include "ui/figures/figure.h"

namespace patchlens {

enum class FigureFormat { Png, Svg, Pdf };

// Writes a Figure as PNG (pixels = size x scale), SVG (vector, QSvgGenerator) or PDF (vector,
// QPdfWriter, one page the size of the figure). Every write goes through QSaveFile: readers
// see the old file or the complete new one, and a failure leaves nothing behind.
class FigureExporter {
 public:
  explicit FigureExporter(const Figure& figure);

  // The figure's size in points; an empty size means Figure::preferredSize().
  void setSize(const QSizeF& points);
  QSizeF size() const;
  // PNG pixels per point (2 = 144 dpi); ignored by the vector formats.
  void setScale(qreal scale);
  qreal scale() const { return m_scale; }
  QSize pixelSize() const;

  // The format a file name asks for (.png, .svg, .pdf, any case).
  static std::optional<FigureFormat> formatForPath(const QString& path);
  // Throws Error(path, reason) for a missing or read-only directory or a failed write.
  void write(const QString& path, FigureFormat format) const;
  void write(const QString& path) const;

  // The figure at `points` x dpr pixels, tagged with dpr (for copies and previews).
  static QImage renderToImage(const Figure& figure, const QSizeF& points, qreal dpr);

 private:
  const Figure& m_figure;
  QSizeF m_size;
  qreal m_scale = 2.0;
};

}  // namespace patchlens
