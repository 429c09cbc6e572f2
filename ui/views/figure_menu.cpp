#include "ui/views/figure_menu.h"

#include <QAction>
#include <QMenu>
#include <QWidget>

#include "ui/figures/figure.h"
#include "ui/figures/figure_factory.h"
#include "ui/figures/plot_kind.h"
#include "ui/session/session.h"
#include "ui/session/session_figure_data.h"
#include "ui/views/figure_widget.h"

namespace patchlens {

namespace {

std::function<void(QMenu&)>& menuHook() {
  static std::function<void(QMenu&)> hook;
  return hook;
}

}  // namespace

void FigureMenu::setHook(std::function<void(QMenu&)> hook) {
  menuHook() = std::move(hook);
}

FigureMenu::Builder FigureMenu::builderFor(Session* session, const QString& kindName) {
  return [session, kindName]() -> std::shared_ptr<const Figure> {
    const auto& result = session->result();
    if (!result) return nullptr;
    try {
      const PlotKind kind = PlotKind::parse(kindName.toStdString());
      return makeFigure(kind, figureDataFor(*session), figureOptionsFor(*session, kind));
    } catch (const std::exception&) {
      return nullptr;  // e.g. a selection that no longer fits the grid
    }
  };
}

void FigureMenu::show(QWidget* owner, Session* session, const QString& kindName, Builder builder,
                      const QPoint& globalPos, const QList<QAction*>& extra) {
  QMenu menu(owner);
  menu.setObjectName(QStringLiteral("figureMenu"));
  for (QAction* act : extra) menu.addAction(act);
  if (!extra.isEmpty()) menu.addSeparator();
  const bool ready = session && session->hasResult();
  // Both build the figure now, from what the view shows (the dialog starts from it).
  QAction* exportAct = menu.addAction(QObject::tr("&Export…"), owner, [=] {
    if (const auto figure = builder())
      FigureWidget::exportFigure(session, figure, kindName, owner->window());
  });
  QAction* copyAct = menu.addAction(QObject::tr("&Copy Image"), owner, [builder] {
    if (const auto figure = builder()) FigureWidget::copyImage(*figure);
  });
  exportAct->setObjectName(QStringLiteral("exportFigureAction"));
  copyAct->setObjectName(QStringLiteral("copyImageAction"));
  exportAct->setEnabled(ready);
  copyAct->setEnabled(ready);
  if (menuHook()) {
    menuHook()(menu);
    return;
  }
  menu.exec(globalPos);
}

}  // namespace patchlens
