#pragma once

#include <QWidget>

class QAction;
class QComboBox;
class QLabel;
class QSlider;
class QSpinBox;

namespace patchlens {

class Session;

// The layer every token view shows (issue 12): a slider and a spin box over "Patch
// embedding", "Input to block 1", "Block 1" … "Block L", "Final norm", with the layer's name
// beside them. Ctrl+PgUp / ] go deeper, Ctrl+PgDn / [ shallower (PgUp / PgDn stay channels).
// Disabled, with a tooltip saying why, when the weights hold only a patch embedding.
// Beside them the feature source (issue 21): Tokens, or the block's Queries, Keys or Values,
// which every token view (PCA, similarity, channels, inspector) then shows at a block's layer.
class LayerControls : public QWidget {
  Q_OBJECT

 public:
  explicit LayerControls(Session* session, QWidget* parent = nullptr);

  QSlider* slider() const { return m_slider; }
  QSpinBox* spinBox() const { return m_spin; }
  QComboBox* sourceBox() const { return m_source; }
  QAction* deeperAction() const { return m_deeper; }
  QAction* shallowerAction() const { return m_shallower; }

 private:
  void sync();

  Session* m_session;
  QLabel* m_label;
  QSlider* m_slider;
  QSpinBox* m_spin;
  QLabel* m_name;
  QComboBox* m_source;
  QAction* m_deeper;
  QAction* m_shallower;
};

}  // namespace patchlens
