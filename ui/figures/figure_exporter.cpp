#include "ui/figures/figure_exporter.h"

#include <QFileInfo>
#include <QImageWriter>
#include <QPageLayout>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSvgGenerator>
#include <cmath>

#include "core/io/error.h"

namespace patchlens {

namespace {

[[noreturn]] void fail(const QString& path, const QString& reason) {
  throw Error(path.toStdString(), reason.toStdString());
}

// Refuses early with a reason a person can act on; QSaveFile's own message for these
// cases names its temporary file, not the directory.
void checkDirectory(const QString& path) {
  const QFileInfo dir(QFileInfo(path).absolutePath());
  if (!dir.exists())
    fail(path, QStringLiteral("the directory %1 does not exist").arg(dir.filePath()));
  if (!dir.isDir()) fail(path, QStringLiteral("%1 is not a directory").arg(dir.filePath()));
  if (!dir.isWritable())
    fail(path, QStringLiteral("the directory %1 is not writable").arg(dir.filePath()));
  if (QFileInfo(path).isDir()) fail(path, QStringLiteral("is a directory"));
}

void open(QSaveFile& file, const QString& path) {
  // A read-only directory must fail, not fall back to writing the target in place.
  file.setDirectWriteFallback(false);
  if (!file.open(QIODevice::WriteOnly))
    fail(path, QStringLiteral("cannot write: %1").arg(file.errorString()));
}

void commit(QSaveFile& file, const QString& path) {
  if (!file.commit()) fail(path, QStringLiteral("cannot write: %1").arg(file.errorString()));
}

void paintFigure(const Figure& figure, QPainter& painter, const QSizeF& size) {
  painter.setRenderHint(QPainter::Antialiasing, true);
  painter.setRenderHint(QPainter::TextAntialiasing, true);
  figure.paint(painter, QRectF(QPointF(0, 0), size));
}

}  // namespace

FigureExporter::FigureExporter(const Figure& figure) : m_figure(figure) {}

void FigureExporter::setSize(const QSizeF& points) {
  m_size = points;
}

QSizeF FigureExporter::size() const {
  return m_size.isEmpty() ? m_figure.preferredSize() : m_size;
}

void FigureExporter::setScale(qreal scale) {
  m_scale = scale;
}

QSize FigureExporter::pixelSize() const {
  const QSizeF s = size();
  return {static_cast<int>(std::lround(s.width() * m_scale)),
          static_cast<int>(std::lround(s.height() * m_scale))};
}

std::optional<FigureFormat> FigureExporter::formatForPath(const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == QLatin1String("png")) return FigureFormat::Png;
  if (suffix == QLatin1String("svg")) return FigureFormat::Svg;
  if (suffix == QLatin1String("pdf")) return FigureFormat::Pdf;
  return std::nullopt;
}

void FigureExporter::write(const QString& path) const {
  const auto format = formatForPath(path);
  if (!format) fail(path, QStringLiteral("unknown figure format (expected .png, .svg or .pdf)"));
  write(path, *format);
}

void FigureExporter::write(const QString& path, FigureFormat format) const {
  checkDirectory(path);
  const QSizeF points = size();
  QSaveFile file(path);
  switch (format) {
    case FigureFormat::Png: {
      const QImage image = renderToImage(m_figure, points, m_scale);
      // Render first: a failure to paint then never creates the temporary file.
      open(file, path);
      QImageWriter writer(&file, "png");
      if (!writer.write(image)) {
        file.cancelWriting();
        fail(path, QStringLiteral("cannot encode PNG: %1").arg(writer.errorString()));
      }
      break;
    }
    case FigureFormat::Svg: {
      open(file, path);
      QSvgGenerator generator;
      generator.setOutputDevice(&file);
      // One SVG user unit per point: the file's width and height are the figure's size.
      generator.setResolution(72);
      generator.setSize(QSize(static_cast<int>(std::ceil(points.width())),
                              static_cast<int>(std::ceil(points.height()))));
      generator.setViewBox(QRectF(QPointF(0, 0), points));
      generator.setTitle(m_figure.title());
      generator.setDescription(QStringLiteral("PatchLens figure"));
      QPainter painter;
      if (!painter.begin(&generator)) fail(path, QStringLiteral("cannot start the SVG"));
      paintFigure(m_figure, painter, points);
      painter.end();
      break;
    }
    case FigureFormat::Pdf: {
      open(file, path);
      QPdfWriter writer(&file);
      writer.setCreator(QStringLiteral("PatchLens"));
      writer.setTitle(m_figure.title());
      // One page exactly the figure's size, no margins; 72 dpi makes a device unit a point.
      writer.setPageLayout(
          QPageLayout(QPageSize(points, QPageSize::Point), QPageLayout::Portrait, QMarginsF()));
      writer.setResolution(72);
      QPainter painter;
      if (!painter.begin(&writer)) fail(path, QStringLiteral("cannot start the PDF"));
      paintFigure(m_figure, painter, points);
      painter.end();
      break;
    }
  }
  commit(file, path);
}

QImage FigureExporter::renderToImage(const Figure& figure, const QSizeF& points, qreal dpr) {
  const QSize pixels(static_cast<int>(std::lround(points.width() * dpr)),
                     static_cast<int>(std::lround(points.height() * dpr)));
  QImage image(pixels, QImage::Format_ARGB32_Premultiplied);
  image.fill(Qt::white);
  // Record the resolution, so that the PNG says how large it is meant to be printed.
  const int dotsPerMeter = static_cast<int>(std::lround(dpr * 72.0 / 0.0254));
  image.setDotsPerMeterX(dotsPerMeter);
  image.setDotsPerMeterY(dotsPerMeter);
  {
    QPainter painter(&image);
    painter.scale(pixels.width() / points.width(), pixels.height() / points.height());
    paintFigure(figure, painter, points);
  }
  image.setDevicePixelRatio(dpr);
  return image;
}

}  // namespace patchlens
