#include "ui/panels/model_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <array>
#include <limits>

#include "ui/base/qt_conversions.h"
#include "ui/session/session.h"

namespace patchlens {

namespace {

QSpinBox* makeSpin(QWidget* parent, int lo, int hi, int step) {
  auto* spin = new QSpinBox(parent);
  spin->setRange(lo, hi);
  spin->setSingleStep(step);
  spin->setKeyboardTracking(false);  // recompute when typing is done, not per digit
  return spin;
}

}  // namespace

ModelPanel::ModelPanel(Session* session, QWidget* parent) : QWidget(parent), m_session(session) {
  setObjectName(QStringLiteral("modelPanel"));
  auto* form = new QFormLayout(this);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  // In a narrow dock a field goes under its label instead of being cut at the edge.
  form->setRowWrapPolicy(QFormLayout::WrapLongRows);

  m_weights = new QComboBox(this);
  m_weights->setObjectName(QStringLiteral("weightsCombo"));
  // Short names fit a laptop's dock; the tooltip says how each is made.
  const std::array<QString, 3> initializers[] = {
      {tr("Xavier uniform"), QStringLiteral("xavier"), tr("Xavier (Glorot) uniform, seeded")},
      {tr("Xavier normal"), QStringLiteral("xavier-normal"), tr("Xavier (Glorot) normal, seeded")},
      {tr("PyTorch default"), QStringLiteral("torch-default"),
       tr("PyTorch Conv2d's default initialisation (Kaiming uniform, a = √5), seeded")},
      {tr("DCT basis"), QStringLiteral("dct"),
       tr("An orthonormal 2-D DCT basis (deterministic, no seed)")},
  };
  for (const auto& [text, key, tip] : initializers) {
    m_weights->addItem(text, key);
    m_weights->setItemData(m_weights->count() - 1, tip, Qt::ToolTipRole);
  }
  form->addRow(tr("&Weights:"), m_weights);
  m_openWeights = new QPushButton(tr("Open weights file…"), this);
  connect(m_openWeights, &QPushButton::clicked, this, &ModelPanel::openWeightsRequested);
  form->addRow(QString(), m_openWeights);
  m_weightsInfo = new QLabel(this);
  m_weightsInfo->setWordWrap(true);
  m_weightsInfo->setTextInteractionFlags(Qt::TextSelectableByMouse);
  form->addRow(QString(), m_weightsInfo);
  m_seed = makeSpin(this, 0, std::numeric_limits<int>::max(), 1);
  form->addRow(tr("&Seed:"), m_seed);

  auto* size = new QHBoxLayout;
  m_height = makeSpin(this, 1, 4096, 16);
  m_width = makeSpin(this, 1, 4096, 16);
  m_height->setAccessibleName(tr("Input height"));
  m_width->setAccessibleName(tr("Input width"));
  // Height first, like the grid (rows × cols) and PyTorch's [C, H, W]; the prefix says which.
  m_height->setPrefix(tr("H "));
  m_width->setPrefix(tr("W "));
  m_height->setToolTip(tr("Model input height in pixels"));
  m_width->setToolTip(tr("Model input width in pixels"));
  size->addWidget(m_height);
  size->addWidget(new QLabel(QStringLiteral("×"), this));
  size->addWidget(m_width);
  // A row whose field is a layout gets no buddy: without one "&z" would show literally.
  auto* sizeLabel = new QLabel(tr("Input si&ze:"), this);
  sizeLabel->setBuddy(m_height);
  form->addRow(sizeLabel, size);
  m_patchSize = makeSpin(this, 1, 256, 1);
  form->addRow(tr("&Patch size:"), m_patchSize);
  m_embedDim = makeSpin(this, 1, 8192, 1);
  form->addRow(tr("&Embed dim:"), m_embedDim);

  m_resize = new QComboBox(this);
  m_resize->addItem(tr("Resize + center crop"), QStringLiteral("crop"));
  m_resize->addItem(tr("Squash to size"), QStringLiteral("squash"));
  m_resize->addItem(tr("Letterbox (pad)"), QStringLiteral("pad"));
  // SigLIP 2 NaFlex: each image gets its own size, at most the budget's patches.
  m_resize->addItem(tr("Fit max patches (aspect kept)"), QStringLiteral("max-patches"));
  form->addRow(tr("&Resize:"), m_resize);
  m_cropPct = new QDoubleSpinBox(this);
  m_cropPct->setRange(0.05, 1.0);
  m_cropPct->setSingleStep(0.025);
  m_cropPct->setDecimals(3);
  m_cropPct->setKeyboardTracking(false);
  form->addRow(tr("&Crop pct:"), m_cropPct);
  m_interpolation = new QComboBox(this);
  for (const char* name : {"bicubic", "bilinear", "nearest"})
    m_interpolation->addItem(QString::fromLatin1(name), QString::fromLatin1(name));
  form->addRow(tr("&Interpolation:"), m_interpolation);
  m_normalization = new QComboBox(this);
  m_normalization->addItem(tr("inception (0.5 / 0.5)"), QStringLiteral("inception"));
  m_normalization->addItem(tr("ImageNet"), QStringLiteral("imagenet"));
  m_normalization->addItem(tr("CLIP"), QStringLiteral("clip"));
  m_normalization->addItem(tr("none"), QStringLiteral("none"));
  form->addRow(tr("&Normalization:"), m_normalization);
  m_remainder = new QComboBox(this);
  m_remainder->addItem(tr("Crop (Conv2d)"), QStringLiteral("crop"));
  m_remainder->addItem(tr("Zero-pad"), QStringLiteral("pad"));
  form->addRow(tr("Re&mainder pixels:"), m_remainder);
  m_fastDecode = new QCheckBox(tr("&Fast JPEG decode (approximate)"), this);
  m_fastDecode->setToolTip(
      tr("Decode large JPEGs at 1/2, 1/4 or 1/8 scale: several times faster, but the model input "
         "no longer equals PIL's decode + resize exactly"));
  form->addRow(QString(), m_fastDecode);
  connect(m_fastDecode, &QCheckBox::toggled, this, [this] { apply(); });

  // Names for tests and accessibility tools.
  m_seed->setObjectName(QStringLiteral("seedSpin"));
  m_height->setObjectName(QStringLiteral("heightSpin"));
  m_width->setObjectName(QStringLiteral("widthSpin"));
  m_patchSize->setObjectName(QStringLiteral("patchSizeSpin"));
  m_embedDim->setObjectName(QStringLiteral("embedDimSpin"));
  m_resize->setObjectName(QStringLiteral("resizeCombo"));
  m_cropPct->setObjectName(QStringLiteral("cropPctSpin"));
  m_interpolation->setObjectName(QStringLiteral("interpolationCombo"));
  m_normalization->setObjectName(QStringLiteral("normalizationCombo"));
  m_remainder->setObjectName(QStringLiteral("remainderCombo"));
  m_fastDecode->setObjectName(QStringLiteral("fastDecodeCheck"));
  m_openWeights->setObjectName(QStringLiteral("openWeightsButton"));

  const auto applyLater = [this] { apply(); };
  for (QComboBox* combo : {m_weights, m_resize, m_interpolation, m_normalization, m_remainder}) {
    // The entries are short (details in tooltips): each combo shows its longest one whole,
    // and the dock is at least that wide (rows wrap under their labels when narrow).
    combo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    connect(combo, &QComboBox::currentIndexChanged, this, applyLater);
  }
  for (QSpinBox* spin : {m_seed, m_height, m_width, m_patchSize, m_embedDim}) {
    connect(spin, &QSpinBox::valueChanged, this, applyLater);
  }
  connect(m_cropPct, &QDoubleSpinBox::valueChanged, this, applyLater);
  connect(session, &Session::configChanged, this, &ModelPanel::syncFromSession);
  connect(session, &Session::resultChanged, this, &ModelPanel::syncFromSession);
  syncFromSession();
}

void ModelPanel::syncFromSession() {
  m_syncing = true;
  const PipelineConfig& config = m_session->config();
  const QString source = toQString(config.weights.source);
  const bool fromFile = m_session->weightsFromFile();
  // A file is one more entry in the list, so the initializers stay one click away.
  while (m_weights->count() > 4) m_weights->removeItem(4);
  // Named below (the path and the family) and in the tooltip: "File: model.safetensors" was
  // cut by a laptop's dock.
  if (fromFile) m_weights->addItem(tr("Weights file"), source);
  m_weights->setCurrentIndex(m_weights->findData(source));
  m_weights->setToolTip(fromFile ? source : QString());
  m_seed->setValue(static_cast<int>(std::min<std::uint64_t>(
      config.weights.seed, static_cast<std::uint64_t>(std::numeric_limits<int>::max()))));
  const bool seeded = !fromFile && config.weights.source != "dct";
  m_seed->setEnabled(seeded);
  m_height->setValue(config.preprocess.height);
  m_width->setValue(config.preprocess.width);
  m_patchSize->setValue(config.weights.shape.patchSize);
  m_embedDim->setValue(config.weights.shape.embedDim);
  // A weight file defines D, P and C.
  m_patchSize->setEnabled(!fromFile);
  m_embedDim->setEnabled(!fromFile);
  const auto& result = m_session->result();
  m_weightsInfo->setText(result ? toQString(result->weights->description) : QString());
  m_resize->setCurrentIndex(
      m_resize->findData(toQString(resizeModeName(config.preprocess.resize))));
  m_cropPct->setValue(config.preprocess.cropPct);
  m_cropPct->setEnabled(config.preprocess.resize == ResizeMode::Crop);
  enableSizeFor(config.preprocess.resize);
  m_interpolation->setCurrentIndex(
      m_interpolation->findData(toQString(interpolationName(config.preprocess.interpolation))));
  int norm = m_normalization->findData(toQString(config.preprocess.normalization.name));
  if (norm < 0) {
    m_normalization->addItem(toQString(config.preprocess.normalization.name),
                             toQString(config.preprocess.normalization.name));
    norm = m_normalization->count() - 1;
  }
  m_normalization->setCurrentIndex(norm);
  m_remainder->setCurrentIndex(config.remainder == RemainderPolicy::Pad ? 1 : 0);
  m_fastDecode->setChecked(config.fastDecode);
  m_syncing = false;
}

void ModelPanel::apply() {
  if (m_syncing) return;
  PipelineConfig config = m_session->config();
  config.weights.source = m_weights->currentData().toString().toStdString();
  config.weights.seed = static_cast<std::uint64_t>(m_seed->value());
  config.preprocess.height = m_height->value();
  config.preprocess.width = m_width->value();
  config.weights.shape.patchSize = m_patchSize->value();
  config.weights.shape.embedDim = m_embedDim->value();
  if (const auto mode = parseResizeMode(m_resize->currentData().toString().toStdString()))
    config.preprocess.resize = *mode;
  config.preprocess.cropPct = m_cropPct->value();
  if (const auto interp =
          parseInterpolation(m_interpolation->currentData().toString().toStdString())) {
    config.preprocess.interpolation = *interp;
  }
  if (const auto norm =
          Normalization::parse(m_normalization->currentData().toString().toStdString())) {
    config.preprocess.normalization = *norm;
  }
  config.remainder =
      m_remainder->currentIndex() == 1 ? RemainderPolicy::Pad : RemainderPolicy::Crop;
  config.fastDecode = m_fastDecode->isChecked();
  m_cropPct->setEnabled(config.preprocess.resize == ResizeMode::Crop);
  enableSizeFor(config.preprocess.resize);
  m_session->setConfig(config);
}

void ModelPanel::enableSizeFor(ResizeMode mode) {
  // Max-patches sizes every image by its own shape: a fixed size would not be used.
  const bool fixed = mode != ResizeMode::MaxPatches;
  m_height->setEnabled(fixed);
  m_width->setEnabled(fixed);
  const QString why = fixed ? QString()
                            : tr("Each image is resized to at most %1 patches, its aspect kept")
                                  .arg(m_session->config().preprocess.maxPatches);
  m_height->setToolTip(why);
  m_width->setToolTip(why);
}

}  // namespace patchlens
