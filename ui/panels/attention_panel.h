#pragma once

#include <QWidget>
#include <memory>

class QCheckBox;
class QDoubleSpinBox;
class QLabel;

namespace patchlens {

class AttentionHeadsFigure;
class FigureWidget;
class Session;

// The Attention dock: for the session's query (a clicked patch or a prefix token) at the
// current layer's block, one small map per head plus their mean on one colour scale, each
// titled with the head's mean attention distance (AttentionHeadsFigure, the same paint path
// as `export --plot attention-heads:L`). Clicking a head selects it for the "attention"
// overlay; clicking the mean selects the mean. "Mass threshold" switches every tile to DINO's
// mask view (visualize_attention.py --threshold, 0.6 by default): the image with the patches
// holding the top T of the head's attention mass in red (`export --plot attention-mask:L:T`).
class AttentionPanel : public QWidget {
  Q_OBJECT

 public:
  explicit AttentionPanel(Session* session, QWidget* parent = nullptr);

  FigureWidget* figureWidget() const { return m_figure; }
  // The maps on screen, [H x N] (empty without a transformer).
  const std::shared_ptr<const AttentionHeadsFigure>& figure() const { return m_current; }
  // The head tile under a widget position of figureWidget() (-1: the mean).
  std::optional<int> headAt(const QPoint& position) const;
  // The mass threshold control: off (nullopt) or T in (0, 1].
  void setMassThreshold(std::optional<float> threshold);
  std::optional<float> massThreshold() const;

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void rebuild();

  Session* m_session;
  QLabel* m_header;
  QCheckBox* m_massBox;
  QDoubleSpinBox* m_massSpin;
  FigureWidget* m_figure;
  std::shared_ptr<const AttentionHeadsFigure> m_current;
};

}  // namespace patchlens
