#include "ui/views/dock_action.h"

#include <QAction>
#include <QDockWidget>

namespace patchlens {

QAction* makeDockAction(QDockWidget* dock) {
  auto* action = new QAction(dock->windowTitle(), dock);
  action->setObjectName(dock->objectName() + QStringLiteral("Action"));
  action->setCheckable(true);
  QAction* toggle = dock->toggleViewAction();
  action->setChecked(toggle->isChecked());
  QObject::connect(toggle, &QAction::toggled, action, &QAction::setChecked);
  QObject::connect(action, &QAction::triggered, dock, [dock, action] {
    const bool open = dock->toggleViewAction()->isChecked() && !dock->isHidden();
    // A tab behind another is open but not seen: its region on screen is empty.
    const bool seen = open && dock->isVisible() && !dock->visibleRegion().isEmpty();
    if (seen) {
      dock->close();
    } else {
      dock->show();
      dock->raise();
    }
    action->setChecked(dock->toggleViewAction()->isChecked());
  });
  return action;
}

}  // namespace patchlens
