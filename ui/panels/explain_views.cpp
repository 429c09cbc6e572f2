#include "ui/panels/explain_views.h"

#include <QAction>
#include <QActionGroup>
#include <QDockWidget>
#include <QKeySequence>
#include <QMainWindow>
#include <QMenu>
#include <QScrollArea>

#include "ui/panels/prediction_panel.h"
#include "ui/session/explain_session.h"
#include "ui/session/session.h"
#include "ui/views/dock_action.h"

namespace patchlens {

ExplainViews::ExplainViews(QMainWindow& window, Session& session, QMenu* viewMenu,
                           QMenu* overlayMenu)
    : QObject(&window), m_session(session) {
  setObjectName(QStringLiteral("explainViews"));
  m_panel = new PredictionPanel(&session);
  m_dock = new QDockWidget(tr("Prediction"), &window);
  m_dock->setObjectName(QStringLiteral("predictionDock"));
  // In a scroll area as the other docks: the table's hint must not widen the right dock area
  // it shares with the inspector at laptop sizes.
  auto* scroll = new QScrollArea(m_dock);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setWidget(m_panel);
  m_dock->setWidget(scroll);
  window.addDockWidget(Qt::RightDockWidgetArea, m_dock);
  if (auto* inspector = window.findChild<QDockWidget*>(QStringLiteral("inspectorDock"))) {
    window.tabifyDockWidget(inspector, m_dock);
    inspector->raise();
  }
  if (viewMenu) viewMenu->addAction(makeDockAction(m_dock));
  // As the transformer docks: hidden for weights without blocks (no head to read, and the
  // laptop's tab column stays short), shown once with the first transformer.
  m_dock->hide();
  connect(&session, &Session::resultChanged, this, [this, &session] {
    if (m_dockShown || !session.hasTransformer()) return;
    m_dockShown = true;
    m_dock->show();
  });
  if (overlayMenu) {
    // After Attention Rollout (Alt+8), in the main window's exclusive overlay group. Alt+0 is
    // None, so the second overlay takes a key no other action uses.
    QActionGroup* group = nullptr;
    QAction* before = nullptr;
    for (QAction* a : overlayMenu->actions()) {
      if (!group && a->actionGroup()) group = a->actionGroup();
      if (a->isSeparator()) {
        before = a;
        break;
      }
    }
    const auto add = [&](OverlayKind kind, const QString& text, const QKeySequence& key) {
      auto* act = new QAction(text, overlayMenu);
      act->setObjectName(overlayKindKey(kind) + QStringLiteral("OverlayAction"));
      act->setCheckable(true);
      act->setData(overlayKindKey(kind));
      act->setShortcut(key);
      if (group) group->addAction(act);
      overlayMenu->insertAction(before, act);
      connect(act, &QAction::triggered, this, [this, kind] { m_session.setOverlay(kind); });
      return act;
    };
    m_gradCam = add(OverlayKind::GradCam, tr("&Grad-CAM of the Explained Class"),
                    QKeySequence(QStringLiteral("Alt+9")));
    m_relevance = add(OverlayKind::Relevance, tr("Rele&vance of the Explained Class"),
                      QKeySequence(QStringLiteral("Ctrl+Shift+R")));
  }
  connect(session.explain(), &ExplainSession::changed, this, &ExplainViews::updateActions);
  updateActions();
}

ExplainViews* ExplainViews::of(const QMainWindow& window) {
  return window.findChild<ExplainViews*>(QStringLiteral("explainViews"),
                                         Qt::FindDirectChildrenOnly);
}

bool ExplainViews::raiseDock(const QString& name) {
  if (!isDockName(name)) return false;
  m_dock->show();
  m_dock->raise();
  return true;
}

void ExplainViews::updateActions() {
  // Refused backward (RoPE, SwiGLU) or no transformer: disabled, the reason as tooltip.
  const QString why = m_session.explain()->unavailableReason();
  for (QAction* act : {m_gradCam, m_relevance}) {
    if (!act) continue;
    act->setEnabled(why.isEmpty() || m_session.explain()->isBusy());
    act->setToolTip(why.isEmpty() ? act->text().remove(QLatin1Char('&')) : why);
  }
}

}  // namespace patchlens
