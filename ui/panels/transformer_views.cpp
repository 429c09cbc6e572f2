#include "ui/panels/transformer_views.h"

#include <QDockWidget>
#include <QMainWindow>
#include <QMenu>

#include "ui/panels/attention_panel.h"
#include "ui/panels/depth_figure_panel.h"
#include "ui/panels/foreground_pca_panel.h"
#include "ui/session/session.h"

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
  m_normsDock = addDock(m_norms, tr("Token norms across depth"), QStringLiteral("tokenNormsDock"));
  m_pcaDock = addDock(m_pca, tr("DINOv2-style PCA"), QStringLiteral("foregroundPcaDock"));
  // Beside the inspector, as tabs: they share its column.
  if (auto* inspector = window.findChild<QDockWidget*>(QStringLiteral("inspectorDock"))) {
    for (QDockWidget* d : {m_attentionDock, m_distanceDock, m_normsDock, m_pcaDock})
      window.tabifyDockWidget(inspector, d);
    inspector->raise();
  }
  if (viewMenu) {
    viewMenu->addSeparator();
    for (QDockWidget* d : {m_attentionDock, m_distanceDock, m_normsDock, m_pcaDock})
      viewMenu->addAction(d->toggleViewAction());
  }
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
