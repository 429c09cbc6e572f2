#include "ui/views/filter_gallery_view.h"

#include <QContextMenuEvent>
#include <QHelpEvent>
#include <QMenu>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <algorithm>

#include "core/io/error.h"
#include "ui/figures/filter_gallery_figure.h"
#include "ui/session/analysis_cache.h"
#include "ui/session/session.h"
#include "ui/views/figure_menu.h"
#include "ui/views/figure_widget.h"

namespace patchlens {

namespace {
constexpr int kMargin = 6;
constexpr int kGap = 3;
constexpr int kTargetTile = 40;  // screen pixels per tile, in whole multiples of P
}  // namespace

FilterGalleryView::FilterGalleryView(AnalysisCache* cache, QWidget* parent)
    : QWidget(parent), m_cache(cache), m_session(cache->session()) {
  QSizePolicy policy(QSizePolicy::Preferred, QSizePolicy::Preferred);
  policy.setHeightForWidth(true);
  setSizePolicy(policy);
  setMouseTracking(false);
  connect(m_cache, &AnalysisCache::changed, this, [this] {
    updateHeight();
    update();
  });
  connect(m_session, &Session::channelChanged, this, [this](int channel) {
    update();
    emit currentTileChanged(tileRect(channel));
  });
}

int FilterGalleryView::filterCount() const {
  const auto& analyses = m_cache->analyses();
  return analyses ? static_cast<int>(analyses->filterTiles.size()) : 0;
}

int FilterGalleryView::tileSize() const {
  const auto& analyses = m_cache->analyses();
  const int p = analyses && analyses->weights ? std::max(1, analyses->weights->patchSize) : 16;
  return p * std::max(1, kTargetTile / p);
}

int FilterGalleryView::columnsFor(int width) const {
  return std::max(1, (width - 2 * kMargin + kGap) / (tileSize() + kGap));
}

int FilterGalleryView::columns() const {
  return columnsFor(width());
}

int FilterGalleryView::heightForWidth(int width) const {
  const int n = filterCount();
  if (n == 0) return 80;
  const int rows = (n + columnsFor(width) - 1) / columnsFor(width);
  return 2 * kMargin + rows * (tileSize() + kGap) - kGap;
}

QSize FilterGalleryView::sizeHint() const {
  return {8 * (tileSize() + kGap) + 2 * kMargin, 400};
}

QRect FilterGalleryView::tileRect(int index) const {
  if (index < 0 || index >= filterCount()) return {};
  const int cols = columns();
  const int t = tileSize();
  return {kMargin + (index % cols) * (t + kGap), kMargin + (index / cols) * (t + kGap), t, t};
}

std::optional<int> FilterGalleryView::filterAt(const QPoint& position) const {
  const int t = tileSize();
  const int x = position.x() - kMargin;
  const int y = position.y() - kMargin;
  if (x < 0 || y < 0) return std::nullopt;
  const int col = x / (t + kGap);
  const int row = y / (t + kGap);
  if (col >= columns() || x % (t + kGap) >= t || y % (t + kGap) >= t) return std::nullopt;
  const int index = row * columns() + col;
  if (index >= filterCount()) return std::nullopt;
  return index;
}

void FilterGalleryView::updateHeight() {
  // The scroll area sizes its widget by the minimum height: keep it at what the width needs.
  setMinimumHeight(heightForWidth(width()));
}

void FilterGalleryView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  updateHeight();
  emit currentTileChanged(tileRect(m_session->channel()));
}

void FilterGalleryView::paintEvent(QPaintEvent* event) {
  QPainter painter(this);
  painter.fillRect(event->rect(), palette().base());
  const auto& analyses = m_cache->analyses();
  if (!analyses || analyses->filterTiles.empty()) {
    painter.setPen(palette().color(QPalette::Text));
    const QString text = !m_session->hasResult() ? tr("Open an image to see the filters.")
                         : analyses && !analyses->error.isEmpty() ? analyses->error
                                                                  : tr("Drawing the filters…");
    painter.drawText(rect().adjusted(kMargin, kMargin, -kMargin, -kMargin),
                     Qt::AlignTop | Qt::AlignHCenter | Qt::TextWordWrap, text);
    return;
  }
  const int n = filterCount();
  const int current = m_session->channel();
  // Only the tiles in the exposed area: 768 tiles, most of them scrolled away.
  for (int i = 0; i < n; ++i) {
    const QRect r = tileRect(i);
    if (!r.intersects(event->rect().adjusted(-3, -3, 3, 3))) continue;
    painter.drawImage(r, analyses->filterTiles[static_cast<std::size_t>(i)]);
  }
  if (current >= 0 && current < n) {
    // A highlight ring with a dark edge on both sides: visible on any filter's colours.
    const QRect ring = tileRect(current).adjusted(-2, -2, 1, 1);
    painter.setBrush(Qt::NoBrush);
    painter.setPen(QPen(Qt::black, 5));
    painter.drawRect(ring);
    painter.setPen(QPen(palette().color(QPalette::Highlight), 3));
    painter.drawRect(ring);
  }
}

void FilterGalleryView::mousePressEvent(QMouseEvent* event) {
  if (event->button() != Qt::LeftButton) return QWidget::mousePressEvent(event);
  if (const auto index = filterAt(event->position().toPoint())) m_session->setChannel(*index);
}

bool FilterGalleryView::event(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    if (const auto index = filterAt(help->pos())) {
      QToolTip::showText(help->globalPos(), tr("Filter %1: click to show channel %1").arg(*index),
                         this, tileRect(*index));
    } else {
      QToolTip::hideText();
    }
    return true;
  }
  return QWidget::event(event);
}

void FilterGalleryView::contextMenuEvent(QContextMenuEvent* event) {
  const auto analyses = m_cache->analyses();
  if (!analyses || !analyses->weights) return;
  QList<QAction*> extra;
  if (const auto index = filterAt(event->pos())) {
    auto* show = new QAction(tr("Show Channel %1").arg(*index), this);
    connect(show, &QAction::triggered, this, [this, index] { m_session->setChannel(*index); });
    extra << show;
  }
  FigureMenu::show(
      this, m_session, QStringLiteral("filters"),
      [weights = analyses->weights]() -> std::shared_ptr<const Figure> {
        return std::make_shared<FilterGalleryFigure>(*weights);
      },
      event->globalPos(), extra);
  qDeleteAll(extra);
}

}  // namespace patchlens
