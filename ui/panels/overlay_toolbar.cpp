#include "ui/panels/overlay_toolbar.h"

#include <QComboBox>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>

#include "ui/base/qt_conversions.h"
#include "ui/session/session.h"

namespace patchlens {

OverlayToolBar::OverlayToolBar(Session* session, QWidget* parent)
    : QToolBar(tr("Overlay"), parent), m_session(session) {
  setObjectName(QStringLiteral("overlayToolBar"));

  auto label = [this](const QString& text, QWidget* buddy) {
    auto* l = new QLabel(text, this);
    l->setBuddy(buddy);
    l->setContentsMargins(6, 0, 3, 0);
    return l;
  };

  m_overlay = new QComboBox(this);
  m_overlay->setObjectName(QStringLiteral("overlayCombo"));
  m_overlay->addItem(tr("None"), overlayKindKey(OverlayKind::None));
  m_overlay->addItem(tr("Channel k"), overlayKindKey(OverlayKind::Channel));
  m_overlay->addItem(tr("L2 norm"), overlayKindKey(OverlayKind::Norm));
  m_overlay->addItem(tr("Mean"), overlayKindKey(OverlayKind::Mean));
  m_overlay->addItem(tr("Argmax channel"), overlayKindKey(OverlayKind::Argmax));
  m_overlay->addItem(tr("PCA → RGB"), overlayKindKey(OverlayKind::Pca));
  m_overlay->addItem(tr("Similarity"), overlayKindKey(OverlayKind::Similarity));
  // Short names keep the toolbar within a 1024-pixel window; the tooltips say more.
  m_overlay->setItemData(m_overlay->count() - 1, tr("Cosine similarity to the selected patch"),
                         Qt::ToolTipRole);
  m_overlay->addItem(tr("Attention"), overlayKindKey(OverlayKind::Attention));
  m_overlay->setItemData(m_overlay->count() - 1,
                         tr("Attention from the query (a patch or a prefix token)"),
                         Qt::ToolTipRole);
  m_overlay->addItem(tr("Rollout"), overlayKindKey(OverlayKind::Rollout));
  m_overlay->setItemData(m_overlay->count() - 1, tr("Attention rollout (Abnar & Zuidema 2020)"),
                         Qt::ToolTipRole);
  m_overlay->addItem(tr("Grad-CAM"), overlayKindKey(OverlayKind::GradCam));
  m_overlay->setItemData(m_overlay->count() - 1,
                         tr("Grad-CAM of the class chosen in the Prediction dock (Alt+9)"),
                         Qt::ToolTipRole);
  m_overlay->addItem(tr("Relevance"), overlayKindKey(OverlayKind::Relevance));
  m_overlay->setItemData(m_overlay->count() - 1,
                         tr("Chefer et al. 2021 relevance of the chosen class (Ctrl+Shift+R)"),
                         Qt::ToolTipRole);
  addWidget(label(tr("O&verlay:"), m_overlay));
  addWidget(m_overlay);

  m_channelSpin = new QSpinBox(this);
  m_channelSpin->setObjectName(QStringLiteral("channelSpin"));
  m_channelSpin->setAccessibleName(tr("Channel"));
  m_channelSlider = new QSlider(Qt::Horizontal, this);
  m_channelSlider->setObjectName(QStringLiteral("channelSlider"));
  m_channelSlider->setMinimumWidth(100);
  m_channelSlider->setAccessibleName(tr("Channel"));
  addWidget(label(tr("C&hannel:"), m_channelSpin));
  addWidget(m_channelSpin);
  addWidget(m_channelSlider);

  m_colormap = new QComboBox(this);
  m_colormap->setObjectName(QStringLiteral("colormapCombo"));
  m_colormap->addItem(tr("Auto"), QString());
  for (const ColormapId id : Colormap::all()) {
    const QString name = toQString(Colormap::get(id).name());
    m_colormap->addItem(name, name);
  }
  addWidget(label(tr("Colo&rmap:"), m_colormap));
  addWidget(m_colormap);

  m_scale = new QComboBox(this);
  m_scale->setObjectName(QStringLiteral("scaleCombo"));
  m_scale->addItem(tr("Auto"), QString());
  m_scale->addItem(tr("Min / max"), scaleModeKey(ScaleMode::MinMax));
  m_scale->addItem(tr("Symmetric"), scaleModeKey(ScaleMode::Symmetric));
  m_scale->setItemData(m_scale->count() - 1, tr("±max|v|: zero in the middle"), Qt::ToolTipRole);
  m_scale->addItem(tr("Global"), scaleModeKey(ScaleMode::Global));
  m_scale->setItemData(m_scale->count() - 1, tr("min / max of the whole embedding"),
                       Qt::ToolTipRole);
  m_scale->addItem(tr("Percentile 2–98 %"), scaleModeKey(ScaleMode::Percentile));
  addWidget(label(tr("&Scale:"), m_scale));
  addWidget(m_scale);

  m_opacity = new QSlider(Qt::Horizontal, this);
  m_opacity->setObjectName(QStringLiteral("opacitySlider"));
  m_opacity->setRange(0, 100);
  m_opacity->setMaximumWidth(110);
  m_opacity->setAccessibleName(tr("Overlay opacity"));
  addWidget(label(tr("O&pacity:"), m_opacity));
  addWidget(m_opacity);

  connect(m_overlay, &QComboBox::currentIndexChanged, this, [this] {
    if (const auto kind = parseOverlayKind(m_overlay->currentData().toString()))
      m_session->setOverlay(*kind);
  });
  connect(m_channelSpin, &QSpinBox::valueChanged, session, &Session::setChannel);
  connect(m_channelSlider, &QSlider::valueChanged, session, &Session::setChannel);
  connect(m_colormap, &QComboBox::currentIndexChanged, this, [this] {
    m_session->setColormapChoice(
        Colormap::parse(m_colormap->currentData().toString().toStdString()));
  });
  connect(m_scale, &QComboBox::currentIndexChanged, this,
          [this] { m_session->setScaleChoice(parseScaleMode(m_scale->currentData().toString())); });
  connect(m_opacity, &QSlider::valueChanged, this,
          [this](int value) { m_session->setOpacity(value / 100.0); });

  connect(session, &Session::resultChanged, this, &OverlayToolBar::syncFromSession);
  connect(session, &Session::channelChanged, this, &OverlayToolBar::syncFromSession);
  connect(session, &Session::overlayChanged, this, &OverlayToolBar::syncFromSession);
  syncFromSession();
}

void OverlayToolBar::syncFromSession() {
  const QSignalBlocker b1(m_overlay), b2(m_channelSpin), b3(m_channelSlider), b4(m_colormap),
      b5(m_scale), b6(m_opacity);
  m_overlay->setCurrentIndex(m_overlay->findData(overlayKindKey(m_session->overlay())));
  const int dim = m_session->hasResult() ? m_session->result()->embedDim()
                                         : m_session->config().weights.shape.embedDim;
  m_channelSpin->setRange(0, std::max(dim - 1, 0));
  m_channelSlider->setRange(0, std::max(dim - 1, 0));
  m_channelSpin->setValue(m_session->channel());
  m_channelSlider->setValue(m_session->channel());
  const bool channelOverlay = m_session->overlay() == OverlayKind::Channel;
  m_channelSpin->setToolTip(channelOverlay
                                ? tr("Channel shown by the overlay (PgUp / PgDn)")
                                : tr("Current channel (inspector, channel panel, matrix)"));
  const auto colormap = m_session->colormapChoice();
  m_colormap->setCurrentIndex(
      colormap ? m_colormap->findData(toQString(Colormap::get(*colormap).name())) : 0);
  const auto scale = m_session->scaleChoice();
  m_scale->setCurrentIndex(scale ? m_scale->findData(scaleModeKey(*scale)) : 0);
  m_opacity->setValue(static_cast<int>(std::lround(m_session->opacity() * 100.0)));
}

}  // namespace patchlens
