#pragma once

#include <QWidget>
#include <memory>

#include "core/model/eigen_types.h"

namespace patchlens {

class FigureWidget;
class Session;
struct LayerTrace;

// A figure across the transformer's depth, on screen through its one paint path: the
// attention distance (dots per head against depth; a click on a dot selects that block's
// layer and that head) or the token norms (tokens x layers; a click selects the layer).
class DepthFigurePanel : public QWidget {
  Q_OBJECT

 public:
  enum class Kind { AttentionDistance, TokenNorms };
  DepthFigurePanel(Kind kind, Session* session, QWidget* parent = nullptr);

  FigureWidget* figureWidget() const { return m_figure; }
  // Acts as a left click at `position` of figureWidget() would.
  bool clickAt(const QPoint& position);
  // The widget position of the dot of (block, head) (attention distance only).
  QPoint dotPosition(int block, int head) const;

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void rebuild();

  Kind m_kind;
  Session* m_session;
  FigureWidget* m_figure;
  // Token norms of every layer, computed once per trace.
  const LayerTrace* m_normsTrace = nullptr;
  RowMatrixF m_norms;
};

}  // namespace patchlens
