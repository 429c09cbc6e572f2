#include "ui/compare/compare_canvas.h"

#include <QFileInfo>
#include <QMouseEvent>
#include <QPainter>
#include <algorithm>

#include "ui/base/qt_conversions.h"

namespace patchlens {

namespace {

constexpr qreal kCaption = 22.0;  // room above each image for its name
constexpr qreal kGap = 24.0;

}  // namespace

CompareCanvas::CompareCanvas(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setMinimumSize(400, 240);
}

void CompareCanvas::setSides(std::shared_ptr<const std::pair<CompareSide, CompareSide>> sides) {
  m_sides = std::move(sides);
  m_layer.reset();
  m_probe.reset();
  m_pinned = false;
  update();
}

void CompareCanvas::setLayerResult(std::shared_ptr<const CompareLayer> layer) {
  m_layer = std::move(layer);
  update();
}

void CompareCanvas::setMode(Mode mode) {
  m_mode = mode;
  update();
}

void CompareCanvas::setMatchCount(int k) {
  m_matchCount = k;
  update();
}

void CompareCanvas::setProbe(std::optional<Probe> probe, bool pinned) {
  m_probe = probe;
  m_pinned = pinned && probe.has_value();
  update();
  emit probeChanged();
}

int CompareCanvas::bestMatch() const {
  if (!m_probe || !m_layer || m_layer->similarity.size() == 0) return -1;
  Eigen::Index best = 0;
  if (m_probe->inB)
    m_layer->similarity.col(m_probe->token).maxCoeff(&best);
  else
    m_layer->similarity.row(m_probe->token).maxCoeff(&best);
  return static_cast<int>(best);
}

QRectF CompareCanvas::imageRect(bool b) const {
  if (!m_sides) return {};
  const qreal half = (width() - kGap) / 2.0;
  const QRectF box(b ? half + kGap : 0.0, kCaption, half, height() - kCaption - 4.0);
  const QSizeF size = QSizeF(side(b).input.size()).scaled(box.size(), Qt::KeepAspectRatio);
  return {box.left() + (box.width() - size.width()) / 2.0, box.top(), size.width(), size.height()};
}

QRectF CompareCanvas::patchRect(bool b, int token) const {
  const CompareSide& s = side(b);
  const QRectF r = imageRect(b);
  const qreal sx = r.width() / std::max(1, s.input.width());
  const qreal sy = r.height() / std::max(1, s.input.height());
  const int cols = std::max(1, s.grid.cols);
  return {r.left() + (token % cols) * s.patchSize * sx, r.top() + (token / cols) * s.patchSize * sy,
          s.patchSize * sx, s.patchSize * sy};
}

QPointF CompareCanvas::patchCentre(bool b, int token) const {
  return patchRect(b, token).center();
}

std::optional<CompareCanvas::Probe> CompareCanvas::probeAt(QPointF pos) const {
  if (!m_sides) return std::nullopt;
  for (const bool b : {false, true}) {
    const CompareSide& s = side(b);
    const QRectF r = imageRect(b);
    if (!r.contains(pos) || s.patchSize <= 0) continue;
    const int col =
        static_cast<int>((pos.x() - r.left()) / r.width() * s.input.width()) / s.patchSize;
    const int row =
        static_cast<int>((pos.y() - r.top()) / r.height() * s.input.height()) / s.patchSize;
    if (row < 0 || col < 0 || row >= s.grid.rows || col >= s.grid.cols) return std::nullopt;
    return Probe{b, row * s.grid.cols + col};
  }
  return std::nullopt;
}

void CompareCanvas::mouseMoveEvent(QMouseEvent* event) {
  if (m_pinned) return;
  const auto probe = probeAt(event->position());
  if (probe && (!m_probe || probe->inB != m_probe->inB || probe->token != m_probe->token))
    setProbe(probe);
}

void CompareCanvas::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return;
  const auto probe = probeAt(event->position());
  if (m_pinned && probe && m_probe && probe->inB == m_probe->inB && probe->token == m_probe->token)
    setProbe(probe, false);
  else if (probe)
    setProbe(probe, true);
}

void CompareCanvas::leaveEvent(QEvent*) {
  if (!m_pinned && m_probe) setProbe(std::nullopt);
}

void CompareCanvas::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.fillRect(rect(), palette().window());
  if (!m_sides) {
    painter.drawText(rect(), Qt::AlignCenter, tr("Computing both images…"));
    return;
  }
  painter.setRenderHint(QPainter::SmoothPixmapTransform, true);
  for (const bool b : {false, true}) {
    const CompareSide& s = side(b);
    const QRectF r = imageRect(b);
    painter.drawImage(r, s.input);
    QFont bold = font();
    bold.setBold(true);
    painter.setFont(bold);
    painter.setPen(palette().windowText().color());
    painter.drawText(
        QRectF(r.left(), 0, r.width(), kCaption), Qt::AlignCenter,
        (b ? QStringLiteral("B: ") : QStringLiteral("A: ")) + QFileInfo(s.path).fileName());
  }
  if (m_layer) {
    const bool pca = m_mode == Mode::JointPca;
    if (pca) {
      const QImage rgbA =
          rgbRowsToQImage(m_layer->joint.rgbA, side(false).grid.rows, side(false).grid.cols);
      const QImage rgbB =
          rgbRowsToQImage(m_layer->joint.rgbB, side(true).grid.rows, side(true).grid.cols);
      painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
      for (const bool b : {false, true}) {
        const CompareSide& s = side(b);
        const QRectF r = imageRect(b);
        const QRectF cells(r.topLeft(),
                           QSizeF(s.grid.cols * s.patchSize * r.width() / s.input.width(),
                                  s.grid.rows * s.patchSize * r.height() / s.input.height()));
        painter.setOpacity(0.85);
        painter.drawImage(cells, b ? rgbB : rgbA);
        painter.setOpacity(1.0);
      }
    } else if (m_mode == Mode::Similarity && m_probe) {
      // The probed patch's similarity over the other image, min–max of the map (a weak or
      // random model's similarities all sit near 1; the status bar gives the numbers).
      const bool other = !m_probe->inB;
      const VectorF values = m_probe->inB
                                 ? VectorF(m_layer->similarity.col(m_probe->token))
                                 : VectorF(m_layer->similarity.row(m_probe->token).transpose());
      const CompareSide& s = side(other);
      const QImage cells = valuesToQImage(values, s.grid.rows, s.grid.cols, ColormapId::Viridis,
                                          scaleRange(ScaleMode::MinMax, values, {}));
      const QRectF r = imageRect(other);
      const QRectF area(r.topLeft(),
                        QSizeF(s.grid.cols * s.patchSize * r.width() / s.input.width(),
                               s.grid.rows * s.patchSize * r.height() / s.input.height()));
      painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
      painter.setOpacity(0.65);
      painter.drawImage(area, cells);
      painter.setOpacity(1.0);
    }
  }
  // Grids.
  painter.setPen(QPen(QColor(255, 255, 255, 70), 1.0));
  for (const bool b : {false, true}) {
    const CompareSide& s = side(b);
    const QRectF r = imageRect(b);
    const qreal cw = s.patchSize * r.width() / std::max(1, s.input.width());
    const qreal ch = s.patchSize * r.height() / std::max(1, s.input.height());
    for (int c = 1; c < s.grid.cols; ++c)
      painter.drawLine(QPointF(r.left() + c * cw, r.top()),
                       QPointF(r.left() + c * cw, r.top() + s.grid.rows * ch));
    for (int row = 1; row < s.grid.rows; ++row)
      painter.drawLine(QPointF(r.left(), r.top() + row * ch),
                       QPointF(r.left() + s.grid.cols * cw, r.top() + row * ch));
  }
  painter.setRenderHint(QPainter::Antialiasing, true);
  if (m_layer && m_mode == Mode::Matches && !m_layer->matches.empty()) {
    const std::size_t k =
        std::min<std::size_t>(static_cast<std::size_t>(m_matchCount), m_layer->matches.size());
    const ValueRange range{
        m_layer->matches[k - 1].similarity,
        std::max(m_layer->matches.front().similarity, m_layer->matches[k - 1].similarity + 1e-3f)};
    for (std::size_t i = k; i-- > 0;) {  // weakest first: the best lie on top
      const PatchMatch& m = m_layer->matches[i];
      const QColor colour = colormapColor(ColormapId::Turbo, m.similarity, range);
      const QPointF pa = patchCentre(false, m.tokenA);
      const QPointF pb = patchCentre(true, m.tokenB);
      painter.setPen(QPen(colour, 1.6));
      painter.drawLine(pa, pb);
      painter.setPen(QPen(Qt::black, 0.8));
      painter.setBrush(colour);
      painter.drawEllipse(pa, 3.0, 3.0);
      painter.drawEllipse(pb, 3.0, 3.0);
    }
  }
  if (m_probe) {
    painter.setBrush(Qt::NoBrush);
    const auto mark = [&](const QRectF& r, const QColor& colour) {
      painter.setPen(QPen(Qt::black, 3.0));
      painter.drawRect(r);
      painter.setPen(QPen(colour, 1.6));
      painter.drawRect(r);
    };
    mark(patchRect(m_probe->inB, m_probe->token), Qt::white);
    const int best = bestMatch();
    if (best >= 0 && m_mode == Mode::Similarity) {
      mark(patchRect(!m_probe->inB, best), QColor(255, 220, 0));
      painter.setPen(QPen(QColor(255, 220, 0), 1.2, Qt::DashLine));
      painter.drawLine(patchCentre(m_probe->inB, m_probe->token), patchCentre(!m_probe->inB, best));
    }
  }
}

}  // namespace patchlens
