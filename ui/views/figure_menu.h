#pragma once

#include <QList>
#include <QPoint>
#include <QString>
#include <functional>
#include <memory>

class QAction;
class QMenu;
class QWidget;

namespace patchlens {

class Figure;
class Session;

// The right-click menu every figure on screen shares: Export… (the export dialog, starting
// from this figure and the screen's style) and Copy Image. A right-click never changes the
// selection: the views call this from contextMenuEvent and ignore right-button presses.
class FigureMenu {
 public:
  // Builds the figure to copy; returns null when there is nothing to show.
  using Builder = std::function<std::shared_ptr<const Figure>()>;

  // `kindName` names the figure for the export dialog (a PlotKind name such as "channel:5",
  // or empty). `extra` actions go above Export….
  static void show(QWidget* owner, Session* session, const QString& kindName, Builder builder,
                   const QPoint& globalPos, const QList<QAction*>& extra = {});
  // A builder for a PlotKind name from the session's current result and style.
  static Builder builderFor(Session* session, const QString& kindName);

  // Tests: when set, the menu is handed to the hook instead of being executed (no modal
  // loop). Pass an empty function to restore the normal behaviour.
  static void setHook(std::function<void(QMenu&)> hook);
};

}  // namespace patchlens
