#include "ui/panels/transformer_views.h"

#include <QAction>
#include <QDockWidget>
#include <QMainWindow>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <algorithm>

#include "ui/panels/attention_panel.h"
#include "ui/panels/depth_figure_panel.h"
#include "ui/panels/foreground_pca_panel.h"
#include "ui/session/session.h"
#include "ui/views/dock_action.h"

namespace patchlens {

TransformerViews::TransformerViews(QMainWindow& window, Session& session, QMenu* viewMenu)
    : QObject(&window), m_window(window) {
  setObjectName(QStringLiteral("transformerViews"));
  m_attention = new AttentionPanel(&session);
  m_distance = new DepthFigurePanel(DepthFigurePanel::Kind::AttentionDistance, &session);
  m_norms = new DepthFigurePanel(DepthFigurePanel::Kind::TokenNorms, &session);
  m_pca = new ForegroundPcaPanel(&session);
  m_attentionDock = addDock(m_attention, tr("Attention"), QStringLiteral("attentionDock"));
  m_distanceDock =
      addDock(m_distance, tr("Attention distance"), QStringLiteral("attentionDistanceDock"));
  m_normsDock = addDock(m_norms, tr("Token norms"), QStringLiteral("tokenNormsDock"));
  m_pcaDock = addDock(m_pca, tr("DINOv2 PCA"), QStringLiteral("foregroundPcaDock"));
  // Beside the inspector, as tabs: they share its column.
  if (auto* inspector = window.findChild<QDockWidget*>(QStringLiteral("inspectorDock"))) {
    for (QDockWidget* d : {m_attentionDock, m_distanceDock, m_normsDock, m_pcaDock})
      window.tabifyDockWidget(inspector, d);
    inspector->raise();
  }
  // Weights without blocks give these docks nothing to show: they stay hidden (keeping the
  // laptop's tab column short) until the first transformer arrives, then appear once; the
  // user may close them after that.
  for (QDockWidget* d : {m_attentionDock, m_distanceDock, m_normsDock, m_pcaDock}) d->hide();
  connect(&session, &Session::resultChanged, this, [this, &session] {
    if (m_docksShown || !session.hasTransformer()) return;
    m_docksShown = true;
    // Nine tabs in the right column scroll at 1366 x 768 (issue 21, defect 13): the
    // weights' views (filters, filter PCA, position embedding) join the model and channel
    // tabs on the left, the column of the patch embedding's views.
    auto* model = m_window.findChild<QDockWidget*>(QStringLiteral("modelDock"));
    if (model && m_window.dockWidgetArea(model) == Qt::LeftDockWidgetArea && !model->isFloating()) {
      for (const char* name : {"filterGalleryDock", "filterPcaDock", "positionSimilarityDock"}) {
        auto* d = m_window.findChild<QDockWidget*>(QString::fromLatin1(name));
        if (d && !d->isFloating() && m_window.dockWidgetArea(d) == Qt::RightDockWidgetArea)
          m_window.tabifyDockWidget(model, d);
      }
      if (auto* channel = m_window.findChild<QDockWidget*>(QStringLiteral("channelDock")))
        channel->raise();
    }
    for (QDockWidget* d : {m_attentionDock, m_distanceDock, m_normsDock, m_pcaDock}) d->show();
  });
  // Help ▸ Layers and Attention: the keys and what the views show.
  for (QAction* menuAction : window.menuBar()->actions()) {
    if (menuAction->menu() && menuAction->text() == tr("&Help")) {
      menuAction->menu()->addAction(tr("&Layers and Attention…"), &window, [&window] {
        QMessageBox::information(
            &window, tr("Layers and Attention"),
            tr("<p>With a weight file that holds a whole ViT encoder, the <b>Layer</b> slider in "
               "the overlay toolbar picks what every token view shows, numbered as the command "
               "line's <tt>--layer</tt>: patch = patch embedding, 0 = input to block 1, 1…L = "
               "blocks 1…L (\"Block 6\" is <tt>--layer 6</tt>), final = final norm.</p>"
               "<p><b>Ctrl+PgUp</b> or <b>]</b>: deeper layer · <b>Ctrl+PgDn</b> or <b>[</b>: "
               "shallower layer · PgUp/PgDn stay channels.</p>"
               "<p>Click a patch (or a prefix token in the strip left of the image) to make it "
               "the attention query; click a head in the <b>Attention</b> dock to select it (the "
               "mean tile selects the mean). Overlays <i>Attention from query</i> and <i>Attention "
               "rollout</i>; docks <b>Attention distance</b> (click a dot: block and head), "
               "<b>Token norms across depth</b> and <b>DINOv2-style PCA</b>.</p>"));
      });
    }
  }
  if (viewMenu) {
    viewMenu->addSeparator();
    for (QDockWidget* d : {m_attentionDock, m_distanceDock, m_normsDock, m_pcaDock})
      viewMenu->addAction(makeDockAction(d));
    QAction* layout =
        viewMenu->addAction(tr("T&ransformer Layout"), this, [this] { applyTransformerLayout(); });
    layout->setObjectName(QStringLiteral("transformerLayoutAction"));
    layout->setStatusTip(
        tr("Attention on the left, above the attention distance, token norms "
           "and DINOv2 PCA"));
  }
}

void TransformerViews::applyTransformerLayout() {
  m_docksShown = true;
  for (QDockWidget* d : {m_attentionDock, m_distanceDock, m_normsDock, m_pcaDock}) {
    d->setFloating(false);
    m_window.removeDockWidget(d);
  }
  // The left column holds the transformer's docks alone: the patch-embedding docks there
  // join the right column's tabs (model, channel) or the matrix's tabs under the image (the
  // weights' views: filters, filter PCA, position embedding), so that no tab strip scrolls
  // at 1366 x 768 (issue 21, defect 13).
  QDockWidget* rightTab = nullptr;
  QList<QDockWidget*> leftOthers;
  auto* matrix = m_window.findChild<QDockWidget*>(QStringLiteral("matrixDock"));
  const QStringList underImage{QStringLiteral("filterGalleryDock"), QStringLiteral("filterPcaDock"),
                               QStringLiteral("positionSimilarityDock")};
  for (QDockWidget* d : m_window.findChildren<QDockWidget*>(Qt::FindDirectChildrenOnly)) {
    if (d->isFloating() || !d->toggleViewAction()->isChecked()) continue;
    if (m_window.dockWidgetArea(d) == Qt::RightDockWidgetArea && !rightTab) rightTab = d;
    if (matrix && matrix != d && underImage.contains(d->objectName()) &&
        m_window.dockWidgetArea(matrix) == Qt::BottomDockWidgetArea && matrix->isVisible()) {
      m_window.tabifyDockWidget(matrix, d);
      continue;
    }
    if (m_window.dockWidgetArea(d) == Qt::LeftDockWidgetArea) leftOthers << d;
  }
  if (matrix) matrix->raise();
  for (QDockWidget* d : leftOthers) {
    if (rightTab) {
      m_window.tabifyDockWidget(rightTab, d);
    } else {
      m_window.addDockWidget(Qt::RightDockWidgetArea, d);
      rightTab = d;
    }
  }
  m_window.addDockWidget(Qt::LeftDockWidgetArea, m_attentionDock);
  m_window.splitDockWidget(m_attentionDock, m_distanceDock, Qt::Vertical);
  m_window.tabifyDockWidget(m_distanceDock, m_normsDock);
  // The DINOv2 PCA dock takes the right column's whole height, in front of the
  // patch-embedding tabs: in half the left column (333 x 244 px at 1366 x 768) its three
  // panels were ~43 px stamps.
  if (rightTab) {
    m_window.tabifyDockWidget(rightTab, m_pcaDock);
  } else {
    m_window.addDockWidget(Qt::RightDockWidgetArea, m_pcaDock);
  }
  for (QDockWidget* d : {m_attentionDock, m_distanceDock, m_normsDock, m_pcaDock}) d->show();
  m_distanceDock->raise();
  m_pcaDock->raise();
  // A quarter of the width for the maps and as much for the right column: the image keeps
  // the middle half; the two rows on the left share the height.
  // At 1024 px the left column as narrow as the attention panel allows, so that the right
  // one (320 px) holds the model panel's file combo whole.
  QList<QDockWidget*> docks{m_attentionDock};
  QList<int> widths{std::max(m_attentionDock->minimumSizeHint().width(), m_window.width() / 4)};
  for (QDockWidget* d : m_window.findChildren<QDockWidget*>(Qt::FindDirectChildrenOnly)) {
    if (m_window.dockWidgetArea(d) == Qt::RightDockWidgetArea && d->isVisible()) {
      docks << d;
      widths << std::max(320, m_window.width() / 4);
      break;
    }
  }
  m_window.resizeDocks(docks, widths, Qt::Horizontal);
  // Below 768 px the attention dock a little more than half: at 700 px its query line
  // wraps to three lines, and in half the column the heads' colour caption fell below the
  // dock's edge (at 768 px the distance figure needs its half).
  const int h = m_window.height();
  const int attention = h < 768 ? h * 11 / 20 : h / 2;
  m_window.resizeDocks({m_attentionDock, m_distanceDock}, {attention, h - attention}, Qt::Vertical);
}

TransformerViews* TransformerViews::of(const QMainWindow& window) {
  return window.findChild<TransformerViews*>(QStringLiteral("transformerViews"),
                                             Qt::FindDirectChildrenOnly);
}

QDockWidget* TransformerViews::addDock(QWidget* content, const QString& title,
                                       const QString& objectName) {
  auto* dock = new QDockWidget(title, &m_window);
  dock->setObjectName(objectName);
  dock->setWidget(content);
  m_window.addDockWidget(Qt::RightDockWidgetArea, dock);
  return dock;
}

bool TransformerViews::isDockName(const QString& name) {
  return name == QLatin1String("attention") || name == QLatin1String("attention-distance") ||
         name == QLatin1String("token-norms") || name == QLatin1String("foreground-pca");
}

bool TransformerViews::raiseDock(const QString& name) {
  QDockWidget* dock = name == QLatin1String("attention")            ? m_attentionDock
                      : name == QLatin1String("attention-distance") ? m_distanceDock
                      : name == QLatin1String("token-norms")        ? m_normsDock
                      : name == QLatin1String("foreground-pca")     ? m_pcaDock
                                                                    : nullptr;
  if (!dock) return false;
  dock->show();
  dock->raise();
  return true;
}

}  // namespace patchlens
