#pragma once

class QAction;
class QDockWidget;

namespace patchlens {

// The View menu's entry for a dock: checked while the dock is open. Choosing it brings a dock
// that is closed, or tabbed behind another, to the front; only a dock already in front is
// closed (QDockWidget::toggleViewAction would close a dock the user cannot see).
QAction* makeDockAction(QDockWidget* dock);

}  // namespace patchlens
