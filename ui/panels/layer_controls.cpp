#include "ui/panels/layer_controls.h"

#include <QAction>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QValidator>
#include <algorithm>

#include "ui/session/session.h"

namespace patchlens {

namespace {

// The layer index (0 = patch embedding, 1 = input to block 1, L + 1 = block L, last = final
// norm) written as the command line's --layer: "patch", 0..depth, "final". So "Block 6"
// stands beside 6, as `--layer 6` opens it.
class LayerSpinBox : public QSpinBox {
 public:
  using QSpinBox::QSpinBox;

 protected:
  QString textFromValue(int value) const override {
    if (value <= minimum()) return QStringLiteral("patch");
    if (value >= maximum() && maximum() >= 3) return QStringLiteral("final");
    return QString::number(value - 1);
  }
  int valueFromText(const QString& text) const override {
    const QString t = text.trimmed();
    if (QStringLiteral("patch").startsWith(t, Qt::CaseInsensitive) && !t.isEmpty())
      return minimum();
    if (QStringLiteral("final").startsWith(t, Qt::CaseInsensitive) && !t.isEmpty())
      return maximum();
    bool ok = false;
    const int layer = t.toInt(&ok);
    return ok ? std::clamp(layer + 1, minimum(), maximum()) : value();
  }
  QValidator::State validate(QString& text, int&) const override {
    const QString t = text.trimmed();
    if (t.isEmpty()) return QValidator::Intermediate;
    for (const QString& word : {QStringLiteral("patch"), QStringLiteral("final")}) {
      if (word.compare(t, Qt::CaseInsensitive) == 0) return QValidator::Acceptable;
      if (word.startsWith(t, Qt::CaseInsensitive)) return QValidator::Intermediate;
    }
    bool ok = false;
    const int layer = t.toInt(&ok);
    if (!ok) return QValidator::Invalid;
    return layer + 1 > minimum() && layer + 1 < maximum() ? QValidator::Acceptable
                                                          : QValidator::Intermediate;
  }
};

}  // namespace

LayerControls::LayerControls(Session* session, QWidget* parent)
    : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("layerControls"));
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(6, 0, 3, 0);
  layout->setSpacing(4);
  m_slider = new QSlider(Qt::Horizontal, this);
  m_slider->setObjectName(QStringLiteral("layerSlider"));
  m_slider->setMinimumWidth(110);
  m_slider->setPageStep(1);
  m_slider->setAccessibleName(tr("Layer"));
  m_spin = new LayerSpinBox(this);
  m_spin->setObjectName(QStringLiteral("layerSpin"));
  m_spin->setAccessibleName(tr("Layer"));
  m_label = new QLabel(tr("La&yer:"), this);
  m_label->setBuddy(m_spin);
  m_name = new QLabel(this);
  m_name->setObjectName(QStringLiteral("layerName"));
  m_name->setMinimumWidth(m_name->fontMetrics().horizontalAdvance(tr("Input to block 1")) + 4);
  layout->addWidget(m_label);
  layout->addWidget(m_slider);
  layout->addWidget(m_spin);
  layout->addWidget(m_name);
  m_source = new QComboBox(this);
  m_source->setObjectName(QStringLiteral("tokenSource"));
  m_source->setAccessibleName(tr("Feature source"));
  for (const TokenSource source :
       {TokenSource::Tokens, TokenSource::Queries, TokenSource::Keys, TokenSource::Values})
    m_source->addItem(tr(tokenSourceTitle(source)), static_cast<int>(source));
  m_source->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  layout->addWidget(m_source);

  m_deeper = new QAction(tr("Next Layer (deeper)"), this);
  m_deeper->setShortcuts({QKeySequence(tr("Ctrl+PgUp")), QKeySequence(Qt::Key_BracketRight)});
  m_shallower = new QAction(tr("Previous Layer (shallower)"), this);
  m_shallower->setShortcuts({QKeySequence(tr("Ctrl+PgDown")), QKeySequence(Qt::Key_BracketLeft)});
  for (QAction* a : {m_deeper, m_shallower}) a->setShortcutContext(Qt::WindowShortcut);
  // Added to the widget so that the shortcuts work wherever focus is in the window.
  addAction(m_deeper);
  addAction(m_shallower);
  connect(m_deeper, &QAction::triggered, this, [this] {
    m_session->setLayer(m_session->result() ? m_session->result()->layerIndex + 1 : 0);
  });
  connect(m_shallower, &QAction::triggered, this, [this] {
    m_session->setLayer(m_session->result() ? m_session->result()->layerIndex - 1 : 0);
  });
  connect(m_slider, &QSlider::valueChanged, session, &Session::setLayer);
  connect(m_spin, &QSpinBox::valueChanged, session, &Session::setLayer);
  connect(m_source, &QComboBox::currentIndexChanged, this, [this](int index) {
    m_session->setTokenSource(static_cast<TokenSource>(m_source->itemData(index).toInt()));
  });
  connect(session, &Session::tokenSourceChanged, this, &LayerControls::sync);
  connect(session, &Session::resultChanged, this, &LayerControls::sync);
  connect(session, &Session::layerChanged, this, &LayerControls::sync);
  sync();
}

void LayerControls::sync() {
  const QSignalBlocker b1(m_slider), b2(m_spin), b3(m_source);
  const bool enabled = m_session->hasTransformer();
  const int count = m_session->layerCount();
  const int layer = m_session->result() ? m_session->result()->layerIndex : 0;
  m_slider->setRange(0, count - 1);
  m_spin->setRange(0, count - 1);
  m_slider->setValue(layer);
  m_spin->setValue(layer);
  m_name->setText(m_session->layerName(layer));
  for (QWidget* w : {static_cast<QWidget*>(m_slider), static_cast<QWidget*>(m_spin),
                     static_cast<QWidget*>(m_label), static_cast<QWidget*>(m_name)}) {
    w->setEnabled(enabled);
    w->setToolTip(enabled ? tr("The layer every token view shows, numbered as the command "
                               "line's --layer: patch = patch embedding, 0 = input to block 1, "
                               "1…%1 = blocks 1…%1, final = final norm (Ctrl+PgUp / ] deeper, "
                               "Ctrl+PgDn / [ shallower)")
                                .arg(count - 3)
                          : m_session->noTransformerReason());
  }
  // q, k, v belong to a block: at the patch embedding, the input to block 1 and the final norm
  // the views show tokens, and the box says so.
  m_source->setCurrentIndex(m_source->findData(static_cast<int>(m_session->tokenSource())));
  const bool atBlock = enabled && layer >= 2 && layer <= count - 2;
  m_source->setEnabled(atBlock);
  m_source->setToolTip(
      !enabled  ? m_session->noTransformerReason()
      : atBlock ? tr("What every token view shows at this block: its output tokens, or its "
                     "queries, keys or values as they enter the softmax (after RoPE, before the "
                     "1/√dh scale), heads side by side (keys: DINO's key-feature PCA); "
                     "export --source")
                : tr("Queries, keys and values belong to a block: %1 shows tokens")
                      .arg(m_session->layerName(layer)));
  m_deeper->setEnabled(enabled);
  m_shallower->setEnabled(enabled);
}

}  // namespace patchlens
