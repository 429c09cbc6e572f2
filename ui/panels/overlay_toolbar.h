#pragma once

#include <QToolBar>

class QComboBox;
class QSlider;
class QSpinBox;

namespace patchlens {

class Session;

// What the image view colours the patches by: overlay kind, channel (spin box + slider),
// colormap, scale mode and opacity.
class OverlayToolBar : public QToolBar {
  Q_OBJECT

 public:
  explicit OverlayToolBar(Session* session, QWidget* parent = nullptr);

  QSpinBox* channelSpin() const { return m_channelSpin; }
  QComboBox* overlayCombo() const { return m_overlay; }

 private:
  void syncFromSession();

  Session* m_session;
  QComboBox* m_overlay;
  QSpinBox* m_channelSpin;
  QSlider* m_channelSlider;
  QComboBox* m_colormap;
  QComboBox* m_scale;
  QSlider* m_opacity;
};

}  // namespace patchlens
