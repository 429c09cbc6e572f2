#include "ui/compare/compare_canvas.h"

#include <QFileInfo>
#include <QMouseEvent>
#include <QPainter>
#include <algorithm>

#include "core/analysis/attention_maps.h"
#include "ui/base/qt_conversions.h"

namespace patchlens {

namespace {

constexpr qreal kCaption = 22.0;  // room above each image for its title
constexpr qreal kGap = 24.0;

}  // namespace

CompareCanvas::CompareCanvas(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setMinimumSize(400, 240);
}

void CompareCanvas::setSides(std::shared_ptr<const std::pair<CompareSide, CompareSide>> sides) {
  m_sides = std::move(sides);
  m_layer.reset();
  m_models.reset();
  m_probe.reset();
  m_pinned = false;
  update();
}

void CompareCanvas::setLayerResult(std::shared_ptr<const CompareLayer> layer) {
  m_layer = std::move(layer);
  update();
}

void CompareCanvas::setModelsLayer(std::shared_ptr<const ModelsLayer> layer) {
  m_models = std::move(layer);
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

void CompareCanvas::setColormap(ColormapId colormap) {
  m_colormap = colormap;
  update();
}

void CompareCanvas::setHead(int head) {
  m_head = head;
  update();
}

void CompareCanvas::setCaptions(const QString& a, const QString& b) {
  m_captionA = a;
  m_captionB = b;
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

int CompareCanvas::samePlace(bool to, int token) const {
  const CompareSide& from = side(!to);
  const CompareSide& s = side(to);
  if (from.grid.cols <= 0 || s.patchSize <= 0) return -1;
  const double fx = ((token % from.grid.cols) + 0.5) * from.patchSize / from.input.width();
  const double fy = ((token / from.grid.cols) + 0.5) * from.patchSize / from.input.height();
  const int col =
      std::clamp(static_cast<int>(fx * s.input.width()) / s.patchSize, 0, s.grid.cols - 1);
  const int row =
      std::clamp(static_cast<int>(fy * s.input.height()) / s.patchSize, 0, s.grid.rows - 1);
  return row * s.grid.cols + col;
}

int CompareCanvas::selectedToken(bool b) const {
  if (!m_probe || !m_sides) return -1;
  if (m_probe->inB == b) return m_probe->token;
  return twoModels() ? samePlace(b, m_probe->token) : bestMatch();
}

int CompareCanvas::attentionBlock(bool b) const {
  if (!m_sides || !m_models || !side(b).trace) return 0;
  return side(b).trace->blockForLayer(b ? m_models->layerB : m_models->layerA);
}

int CompareCanvas::attentionQuery(bool b) const {
  const LayerTrace& trace = *side(b).trace;
  const int selected = selectedToken(b);
  if (selected >= 0) return trace.prefixTokens + selected;
  if (trace.prefixTokens > 0) return 0;
  return trace.prefixTokens + (trace.gridRows / 2) * trace.gridCols + trace.gridCols / 2;
}

VectorF CompareCanvas::shownMap(bool b) const {
  if (!m_sides) return {};
  if (m_mode == Mode::Similarity) {
    // The probed patch's similarity over the other image.
    if (!m_layer || !m_probe || m_probe->inB == b) return {};
    return m_probe->inB ? VectorF(m_layer->similarity.col(m_probe->token))
                        : VectorF(m_layer->similarity.row(m_probe->token).transpose());
  }
  if (!m_models) return {};
  if (m_mode == Mode::ModelSimilarity) {
    const int token = selectedToken(b);
    if (token < 0) return {};
    const RowMatrixF& similarity = b ? m_models->similarityB : m_models->similarityA;
    return similarity.row(token).transpose();
  }
  if (m_mode == Mode::ModelAttention) {
    const CompareSide& s = side(b);
    const int block = attentionBlock(b);
    if (!s.trace || !s.trace->hasAttention(block)) return {};
    const auto& heads = s.trace->attentionOf(block);
    if (m_head >= static_cast<int>(heads.size())) return {};
    return headPatchAttention(heads, m_head, attentionQuery(b), s.trace->prefixTokens);
  }
  return {};
}

QRectF CompareCanvas::imageRect(bool b) const {
  if (!m_sides) return {};
  const qreal half = (width() - kGap) / 2.0;
  const QRectF box(b ? half + kGap : 0.0, kCaption, half, height() - kCaption - 4.0);
  const QSizeF size = QSizeF(side(b).input.size()).scaled(box.size(), Qt::KeepAspectRatio);
  return {box.left() + (box.width() - size.width()) / 2.0, box.top(), size.width(), size.height()};
}

QRectF CompareCanvas::cellsRect(bool b) const {
  const CompareSide& s = side(b);
  const QRectF r = imageRect(b);
  return {r.topLeft(),
          QSizeF(s.grid.cols * s.patchSize * r.width() / std::max(1, s.input.width()),
                 s.grid.rows * s.patchSize * r.height() / std::max(1, s.input.height()))};
}

QRectF CompareCanvas::patchRect(bool b, int token) const {
  const CompareSide& s = side(b);
  const QRectF cells = cellsRect(b);
  const int cols = std::max(1, s.grid.cols);
  const qreal w = cells.width() / cols;
  const qreal h = cells.height() / std::max(1, s.grid.rows);
  return {cells.left() + (token % cols) * w, cells.top() + (token / cols) * h, w, h};
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

void CompareCanvas::paintOverlays(QPainter& painter) const {
  painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
  for (const bool b : {false, true}) {
    const CompareSide& s = side(b);
    QImage cells;
    qreal opacity = 0.65;
    const RowMatrixF* rgb = nullptr;
    if (m_mode == Mode::JointPca && m_layer) rgb = b ? &m_layer->joint.rgbB : &m_layer->joint.rgbA;
    if (m_mode == Mode::ModelPca && m_models) rgb = b ? &m_models->rgbB : &m_models->rgbA;
    if (rgb) {
      cells = rgbRowsToQImage(*rgb, s.grid.rows, s.grid.cols);
      opacity = 0.85;
    } else if (const VectorF values = shownMap(b); values.size() > 0) {
      // Min–max of each map (a weak or random model's similarities all sit near 1; the status
      // bar gives the numbers).
      cells = valuesToQImage(values, s.grid.rows, s.grid.cols, m_colormap,
                             scaleRange(ScaleMode::MinMax, values, {}));
    }
    if (cells.isNull()) continue;
    painter.setOpacity(opacity);
    painter.drawImage(cellsRect(b), cells);
    painter.setOpacity(1.0);
  }
}

void CompareCanvas::paintMatches(QPainter& painter) const {
  const std::size_t k =
      std::min<std::size_t>(static_cast<std::size_t>(m_matchCount), m_layer->matches.size());
  const ValueRange range{
      m_layer->matches[k - 1].similarity,
      std::max(m_layer->matches.front().similarity, m_layer->matches[k - 1].similarity + 1e-3f)};
  for (std::size_t i = k; i-- > 0;) {  // weakest first: the best lie on top
    const PatchMatch& m = m_layer->matches[i];
    const QColor colour = colormapColor(m_colormap, m.similarity, range);
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

void CompareCanvas::paintSelection(QPainter& painter) const {
  painter.setBrush(Qt::NoBrush);
  const auto mark = [&](const QRectF& r, const QColor& colour) {
    painter.setPen(QPen(Qt::black, 3.0));
    painter.drawRect(r);
    painter.setPen(QPen(colour, 1.6));
    painter.drawRect(r);
  };
  mark(patchRect(m_probe->inB, m_probe->token), Qt::white);
  const int other = selectedToken(!m_probe->inB);
  if (other < 0 || m_mode == Mode::Matches || m_mode == Mode::JointPca) return;
  // The linked patch: the best match in the other image, or the same place for another model.
  mark(patchRect(!m_probe->inB, other), twoModels() ? Qt::white : QColor(255, 220, 0));
  if (!twoModels()) {
    painter.setPen(QPen(QColor(255, 220, 0), 1.2, Qt::DashLine));
    painter.drawLine(patchCentre(m_probe->inB, m_probe->token), patchCentre(!m_probe->inB, other));
  }
}

void CompareCanvas::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  painter.fillRect(rect(), palette().window());
  if (!m_sides) {
    painter.drawText(rect(), Qt::AlignCenter, tr("Computing both sides…"));
    return;
  }
  painter.setRenderHint(QPainter::SmoothPixmapTransform, true);
  QFont bold = font();
  bold.setBold(true);
  painter.setFont(bold);
  painter.setPen(palette().windowText().color());
  for (const bool b : {false, true}) {
    const CompareSide& s = side(b);
    const QRectF r = imageRect(b);
    painter.drawImage(r, s.input);
    QString title = caption(b);
    if (title.isEmpty()) title = (b ? "B: " : "A: ") + QFileInfo(s.path).fileName();
    const qreal half = (width() - kGap) / 2.0;
    painter.drawText(QRectF(b ? half + kGap : 0.0, 0, half, kCaption), Qt::AlignCenter,
                     painter.fontMetrics().elidedText(title, Qt::ElideMiddle, int(half)));
  }
  paintOverlays(painter);
  // Grids.
  painter.setPen(QPen(QColor(255, 255, 255, 70), 1.0));
  for (const bool b : {false, true}) {
    const CompareSide& s = side(b);
    const QRectF cells = cellsRect(b);
    const qreal cw = cells.width() / std::max(1, s.grid.cols);
    const qreal ch = cells.height() / std::max(1, s.grid.rows);
    for (int c = 1; c < s.grid.cols; ++c)
      painter.drawLine(QPointF(cells.left() + c * cw, cells.top()),
                       QPointF(cells.left() + c * cw, cells.bottom()));
    for (int row = 1; row < s.grid.rows; ++row)
      painter.drawLine(QPointF(cells.left(), cells.top() + row * ch),
                       QPointF(cells.right(), cells.top() + row * ch));
  }
  painter.setRenderHint(QPainter::Antialiasing, true);
  if (m_layer && m_mode == Mode::Matches && !m_layer->matches.empty()) paintMatches(painter);
  if (m_probe) paintSelection(painter);
}

}  // namespace patchlens
