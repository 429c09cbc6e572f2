#include "ui/figures/export_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QStandardItemModel>
#include <QVBoxLayout>
#include <QtConcurrent>
#include <algorithm>

#include "core/io/error.h"
#include "ui/figures/figure.h"
#include "ui/figures/figure_exporter.h"
#include "ui/figures/figure_factory.h"
#include "ui/figures/plot_kind.h"
#include "ui/session/explain_session.h"
#include "ui/session/session.h"
#include "ui/session/session_figure_data.h"

namespace patchlens {

namespace {

struct Built {
  std::shared_ptr<const Figure> figure;
  QString error;
};

QString suffixFor(FigureFormat format) {
  switch (format) {
    case FigureFormat::Png:
      return QStringLiteral("png");
    case FigureFormat::Svg:
      return QStringLiteral("svg");
    case FigureFormat::Pdf:
      return QStringLiteral("pdf");
  }
  return {};
}

// "channel:5" -> "channel_5", "pca --foreground 0.50" -> "pca_foreground_0.50": a file name
// without characters some systems refuse (or shells split).
QString fileStem(const QString& kind) {
  QString stem = kind;
  stem.replace(QStringLiteral(" --"), QStringLiteral("_"))
      .replace(QLatin1Char(' '), QLatin1Char('_'));
  stem.replace(QLatin1Char(':'), QLatin1Char('_')).replace(QLatin1Char(','), QLatin1Char('_'));
  return stem.isEmpty() ? QStringLiteral("figure") : stem;
}

// The DINOv2 PCA entry is named like the CLI call that draws it: "pca --foreground 0.50"
// (+ " --foreground-flip").
const QString kForegroundPrefix = QStringLiteral("pca --foreground ");

QString foregroundKind(const ForegroundPcaOptions& options) {
  return kForegroundPrefix + QString::number(options.threshold, 'f', 2) +
         (options.flip ? QStringLiteral(" --foreground-flip") : QString());
}

std::optional<ForegroundPcaOptions> parseForegroundKind(const QString& name) {
  if (!name.startsWith(kForegroundPrefix)) return std::nullopt;
  QString rest = name.mid(kForegroundPrefix.size());
  ForegroundPcaOptions options;
  options.flip = rest.endsWith(QStringLiteral(" --foreground-flip"));
  if (options.flip) rest.chop(QStringLiteral(" --foreground-flip").size());
  bool ok = false;
  const double t = rest.toDouble(&ok);
  if (!ok || t < 0.0 || t > 1.0) return std::nullopt;
  options.threshold = static_cast<float>(t);
  return options;
}

// The folder the last export went to (this run of the program): the next dialog starts there.
QString& lastExportDirectory() {
  static QString directory;
  return directory;
}

// Kinds drawn from the tokens of the layer on screen: their command needs --layer.
bool dependsOnLayer(const PlotKind& kind) {
  if (kind.drawsTokens()) return true;
  switch (kind.type) {
    case PlotType::AttentionDistance:  // marks the layer's block
    case PlotType::TokenNorms:         // marks the layer
    case PlotType::Reconstruction:     // refused away from the patch embedding
      return true;
    default:
      return false;
  }
}

// A word as a POSIX shell reads it back.
QString shellQuoted(const QString& word) {
  static const QRegularExpression plain(QStringLiteral("^[A-Za-z0-9_./:,=+-]+$"));
  if (plain.match(word).hasMatch()) return word;
  QString quoted = word;
  quoted.replace(QLatin1Char('\''), QStringLiteral("'\\''"));
  return QLatin1Char('\'') + quoted + QLatin1Char('\'');
}

}  // namespace

ExportDialog::ExportDialog(Session* session, QWidget* parent)
    : QDialog(parent), m_session(session) {
  setWindowTitle(tr("Export Figure"));
  setObjectName(QStringLiteral("exportDialog"));

  m_kindBox = new QComboBox(this);
  m_kindBox->setObjectName(QStringLiteral("kindBox"));
  m_formatBox = new QComboBox(this);
  m_formatBox->setObjectName(QStringLiteral("formatBox"));
  m_formatBox->addItem(tr("PNG (raster)"), static_cast<int>(FigureFormat::Png));
  m_formatBox->addItem(tr("SVG (vector)"), static_cast<int>(FigureFormat::Svg));
  m_formatBox->addItem(tr("PDF (vector)"), static_cast<int>(FigureFormat::Pdf));

  const auto makeSpin = [this](double lo, double hi, double step, int decimals,
                               const QString& suffix) {
    auto* spin = new QDoubleSpinBox(this);
    spin->setRange(lo, hi);
    spin->setSingleStep(step);
    spin->setDecimals(decimals);
    spin->setSuffix(suffix);
    return spin;
  };
  m_width = makeSpin(72, 7200, 10, 0, tr(" pt"));
  m_height = makeSpin(72, 7200, 10, 0, tr(" pt"));
  m_scale = makeSpin(0.25, 16, 0.5, 2, tr(" px/pt"));
  m_scale->setValue(2.0);
  m_pixelInfo = new QLabel(this);
  m_pixelInfo->setObjectName(QStringLiteral("pixelInfo"));

  auto* sizeRow = new QHBoxLayout;
  sizeRow->addWidget(m_width);
  sizeRow->addWidget(new QLabel(QStringLiteral("×"), this));
  sizeRow->addWidget(m_height);
  sizeRow->addStretch(1);
  auto* scaleRow = new QHBoxLayout;
  scaleRow->setObjectName(QStringLiteral("scaleRow"));
  scaleRow->addWidget(m_scale);
  scaleRow->addWidget(m_pixelInfo, 1);

  m_pathEdit = new QLineEdit(this);
  m_pathEdit->setObjectName(QStringLiteral("pathEdit"));
  auto* browseButton = new QPushButton(tr("&Browse…"), this);
  auto* pathRow = new QHBoxLayout;
  pathRow->addWidget(m_pathEdit, 1);
  pathRow->addWidget(browseButton);

  auto* form = new QFormLayout;
  form->setObjectName(QStringLiteral("exportForm"));
  form->addRow(tr("&Figure:"), m_kindBox);
  form->addRow(tr("F&ormat:"), m_formatBox);
  // Rows that hold a layout get no automatic buddy: give their labels one for the mnemonic.
  const auto labelFor = [this](const QString& text, QWidget* buddy) {
    auto* label = new QLabel(text, this);
    label->setBuddy(buddy);
    return label;
  };
  form->addRow(labelFor(tr("&Size:"), m_width), sizeRow);
  form->addRow(labelFor(tr("PNG s&cale:"), m_scale), scaleRow);
  form->addRow(labelFor(tr("&File:"), m_pathEdit), pathRow);
  m_styleInfo = new QLabel(this);
  m_styleInfo->setObjectName(QStringLiteral("styleInfo"));
  m_styleInfo->setWordWrap(true);
  m_styleInfo->setToolTip(tr("Colormap, scale and opacity as on screen (change them there)"));
  form->addRow(tr("Style:"), m_styleInfo);
  m_commandInfo = new QLabel(this);
  m_commandInfo->setObjectName(QStringLiteral("commandLine"));
  m_commandInfo->setWordWrap(true);
  m_commandInfo->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_commandInfo->setToolTip(tr("The patchlens-cli call that draws this figure"));
  form->addRow(tr("Command:"), m_commandInfo);

  m_preview = new QLabel(this);
  m_preview->setObjectName(QStringLiteral("preview"));
  m_preview->setMinimumSize(480, 320);
  m_preview->setAlignment(Qt::AlignCenter);
  m_preview->setFrameShape(QFrame::StyledPanel);
  m_preview->setSizePolicy(QSizePolicy::Ignored,
                           QSizePolicy::Ignored);  // the pixmap follows the label
  m_preview->installEventFilter(this);

  m_message = new QLabel(this);
  m_message->setObjectName(QStringLiteral("message"));
  m_message->setWordWrap(true);
  m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Close, this);
  m_saveButton = buttons->button(QDialogButtonBox::Save);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(m_preview, 1);
  layout->addWidget(m_message);
  layout->addWidget(buttons);
  resize(640, 680);

  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(m_saveButton, &QPushButton::clicked, this, [this] {
    if (save()) accept();
  });
  connect(browseButton, &QPushButton::clicked, this, &ExportDialog::browse);
  connect(m_pathEdit, &QLineEdit::textEdited, this, [this] { m_pathChosen = true; });
  connect(m_pathEdit, &QLineEdit::textChanged, this,
          [this] { m_commandInfo->setText(commandLine()); });
  connect(m_kindBox, &QComboBox::currentIndexChanged, this, &ExportDialog::rebuildFigure);
  connect(m_formatBox, &QComboBox::currentIndexChanged, this, &ExportDialog::onFormatChanged);
  for (QDoubleSpinBox* spin : {m_width, m_height}) {
    connect(spin, &QDoubleSpinBox::valueChanged, this, [this] {
      if (m_updatingSize) return;
      updatePixelInfo();
      updatePreview();
    });
  }
  connect(m_scale, &QDoubleSpinBox::valueChanged, this, &ExportDialog::updatePixelInfo);

  populateKinds();
  const QString folder = lastExportDirectory().isEmpty() ? QDir::homePath() : lastExportDirectory();
  m_pathEdit->setText(
      QDir(folder).filePath(fileStem(kind()) + QLatin1Char('.') + suffixFor(format())));
  rebuildFigure();
}

QStringList ExportDialog::commandArguments() const {
  const auto& result = m_session->result();
  const QString name = kind();
  if (!result || (m_fixedFigure && m_kindBox->currentIndex() == 0 && name == m_fixedKind))
    return {};
  const std::optional<ForegroundPcaOptions> foreground = parseForegroundKind(name);
  PlotKind plot;
  try {
    plot = PlotKind::parse(foreground ? std::string("pca") : name.toStdString());
  } catch (const std::exception&) {
    return {};
  }
  QStringList args{QStringLiteral("export"), result->imagePath, QStringLiteral("--weights"),
                   QString::fromStdString(m_session->config().weights.source)};
  if (m_session->headsOverride() > 0)
    args << QStringLiteral("--heads") << QString::number(m_session->headsOverride());
  args << QStringLiteral("--plot") << (foreground ? QStringLiteral("pca") : name);
  if (foreground) {
    args << QStringLiteral("--foreground") << QString::number(foreground->threshold, 'f', 2);
    if (foreground->flip) args << QStringLiteral("--foreground-flip");
  }
  if (result->trace && dependsOnLayer(plot))
    args << QStringLiteral("--layer")
         << QString::fromStdString(layerSpec(result->trace.get(), result->layerIndex));
  if (result->trace && plot.drawsTokens() && result->source != TokenSource::Tokens)
    args << QStringLiteral("--source") << QString::fromUtf8(tokenSourceName(result->source));
  if (m_options.query) {
    args << QStringLiteral("--query")
         << (m_options.query->prefixName.empty()
                 ? QStringLiteral("%1,%2").arg(m_options.query->row).arg(m_options.query->col)
                 : QString::fromStdString(m_options.query->prefixName));
  }
  if (m_options.colormap)
    args << QStringLiteral("--colormap")
         << QString::fromStdString(Colormap::get(*m_options.colormap).name());
  if (m_figure && figureSize() != m_figure->preferredSize()) {
    args << QStringLiteral("--width") << QString::number(qRound(figureSize().width()))
         << QStringLiteral("--height") << QString::number(qRound(figureSize().height()));
  }
  if (format() == FigureFormat::Png && !qFuzzyCompare(scale(), 2.0))
    args << QStringLiteral("--scale") << QString::number(scale());
  QString target = path();
  if (!target.isEmpty() && FigureExporter::formatForPath(target) != format())
    target += QLatin1Char('.') + suffixFor(format());
  args << QStringLiteral("-o") << target;
  return args;
}

QString ExportDialog::commandLine() const {
  const QStringList args = commandArguments();
  if (args.isEmpty()) return tr("(this view has no command-line equivalent)");
  return commandLineOf(args);
}

QString ExportDialog::commandLineOf(const QStringList& args) {
  QStringList words{QStringLiteral("patchlens-cli")};
  for (const QString& a : args) words << shellQuoted(a);
  return words.join(QLatin1Char(' '));
}

ExportDialog::~ExportDialog() = default;

void ExportDialog::populateKinds() {
  const QSignalBlocker blocker(m_kindBox);
  m_kindBox->clear();
  const auto& result = m_session->result();
  if (!result) return;
  const auto add = [this](const QString& name, const QString& description) {
    m_kindBox->addItem(QStringLiteral("%1 — %2").arg(description, name), name);
  };
  const int channel = m_session->channel();
  add(QStringLiteral("channel:%1").arg(channel), tr("Channel %1 over the image").arg(channel));
  if (const auto sel = m_session->selection()) {
    const QString rc = QStringLiteral("%1,%2").arg(sel->row).arg(sel->col);
    add(QStringLiteral("token:") + rc, tr("Selected token as a tile"));
    add(QStringLiteral("token-line:") + rc, tr("Selected token as a line"));
    add(QStringLiteral("similarity:") + rc, tr("Similarity to the selected patch"));
  }
  add(QStringLiteral("pca"), tr("Token PCA → RGB"));
  add(QStringLiteral("histogram"), tr("Histogram of the embedding"));
  const int d = result->embedDim();
  if (d > 1)
    add(QStringLiteral("channels:0-%1").arg(std::min(d, 64) - 1), tr("First channels as a grid"));
  add(QStringLiteral("filters"), tr("All filters"));
  add(QStringLiteral("filter-pca"), tr("Principal components of the filters"));
  add(QStringLiteral("reconstruction"), tr("Reconstruction from the embedding"));
  if (result->weights && result->weights->positionEmbedding)
    add(QStringLiteral("posembed"), tr("Position-embedding similarity"));
  addTransformerKinds();
  addClassifierKinds();
  const int index = m_kindBox->findData(defaultKind());
  m_kindBox->setCurrentIndex(std::max(index, 0));
}

void ExportDialog::addTransformerKinds() {
  // The transformer's figures with the settings on screen (layer, query, head, threshold);
  // listed but disabled, with the reason as their tooltip, for a patch embedding only.
  const bool has = m_session->hasTransformer();
  const int block = has ? m_session->currentBlock() : 1;
  const int head = m_session->head();
  const QString query = has ? m_session->queryName() : tr("the selected query");
  const ForegroundPcaOptions foreground = m_session->foregroundPca();
  PlotKind mask{PlotType::AttentionMask, block, 0};
  mask.threshold = m_session->attentionMass().value_or(PlotKind::kDefaultMassThreshold);
  const std::pair<QString, QString> entries[] = {
      {QStringLiteral("attention:%1").arg(block),
       tr("Attention from %1, block %2, mean over heads").arg(query).arg(block)},
      {head >= 0 ? QStringLiteral("attention:%1,%2").arg(block).arg(head) : QString(),
       tr("Attention from %1, block %2, head %3").arg(query).arg(block).arg(head)},
      {QStringLiteral("attention-heads:%1").arg(block),
       tr("Attention heads from %1, block %2").arg(query).arg(block)},
      {QString::fromStdString(mask.name()),
       tr("Attention mass masks (DINO, top %1 %) from %2, block %3")
           .arg(static_cast<double>(mask.threshold) * 100.0, 0, 'g', 4)
           .arg(query)
           .arg(block)},
      {QStringLiteral("rollout"), tr("Attention rollout")},
      {QStringLiteral("attention-distance"), tr("Mean attention distance per head")},
      {QStringLiteral("token-norms"), tr("Token norms across depth")},
      {foregroundKind(foreground),
       tr("DINOv2 PCA, foreground where PC1 %1 %2")
           .arg(foreground.flip ? QStringLiteral("(flipped) >") : QStringLiteral(">"))
           .arg(foreground.threshold, 0, 'f', 2)},
  };
  auto* model = qobject_cast<QStandardItemModel*>(m_kindBox->model());
  for (const auto& [name, description] : entries) {
    if (name.isEmpty()) continue;  // no head selected: the mean is the attention on screen
    m_kindBox->addItem(QStringLiteral("%1 — %2").arg(description, name), name);
    if (has || !model) continue;
    QStandardItem* item = model->item(m_kindBox->count() - 1);
    item->setEnabled(false);
    item->setToolTip(m_session->noTransformerReason());
  }
}

void ExportDialog::addClassifierKinds() {
  // The class on screen (the Prediction dock's choice) by number, so the Command row redraws it.
  const ExplainSession& explain = *m_session->explain();
  const auto& e = explain.explanation();
  const bool hasHead = explain.explainer() && explain.explainer()->hasHead();
  const QString k = e && e->classIndex >= 0 ? QStringLiteral(":%1").arg(e->classIndex) : QString();
  const QString target = e ? explain.targetName() : tr("the top class");
  const std::pair<QString, QString> entries[] = {
      {QStringLiteral("prediction"), tr("Top 5 classes with probabilities")},
      {QStringLiteral("gradcam") + k, tr("Grad-CAM of %1").arg(target)},
      {QStringLiteral("relevance") + k, tr("Relevance of %1").arg(target)},
  };
  QString why = explain.unavailableReason();
  if (why.isEmpty() && !explain.explainer()) why = tr("computing the prediction…");
  if (why.isEmpty() && !hasHead) why = tr("no classifier head: %1").arg(explain.noHeadReason());
  auto* model = qobject_cast<QStandardItemModel*>(m_kindBox->model());
  for (const auto& [name, description] : entries) {
    m_kindBox->addItem(QStringLiteral("%1 — %2").arg(description, name), name);
    if (why.isEmpty() || !model) continue;
    QStandardItem* item = model->item(m_kindBox->count() - 1);
    item->setEnabled(false);
    item->setToolTip(why);
  }
}

QString ExportDialog::defaultKind() const {
  const auto sel = m_session->selection();
  const QString rc = sel ? QStringLiteral("%1,%2").arg(sel->row).arg(sel->col) : QString();
  switch (m_session->overlay()) {
    case OverlayKind::Attention:
      if (m_session->hasTransformer()) {
        const int block = m_session->currentBlock();
        return m_session->head() >= 0
                   ? QStringLiteral("attention:%1,%2").arg(block).arg(m_session->head())
                   : QStringLiteral("attention:%1").arg(block);
      }
      break;
    case OverlayKind::Rollout:
      if (m_session->hasTransformer()) return QStringLiteral("rollout");
      break;
    case OverlayKind::GradCam:
    case OverlayKind::Relevance:
      if (const auto& e = m_session->explain()->explanation(); e && e->classIndex >= 0)
        return QStringLiteral("%1:%2")
            .arg(m_session->overlay() == OverlayKind::GradCam ? QStringLiteral("gradcam")
                                                              : QStringLiteral("relevance"))
            .arg(e->classIndex);
      break;
    case OverlayKind::Pca:
      return QStringLiteral("pca");
    case OverlayKind::Similarity:
      if (sel) return QStringLiteral("similarity:") + rc;
      break;
    default:
      break;
  }
  if (sel && m_session->overlay() != OverlayKind::Channel) return QStringLiteral("token:") + rc;
  return QStringLiteral("channel:%1").arg(m_session->channel());
}

void ExportDialog::setFixedFigure(std::shared_ptr<const Figure> figure, const QString& kindName) {
  m_fixedFigure = std::move(figure);
  m_fixedKind = kindName.isEmpty() ? QStringLiteral("view") : kindName;
  const QString title = m_fixedFigure ? m_fixedFigure->title() : QString();
  m_kindBox->insertItem(0, tr("This view — %1").arg(title), m_fixedKind);
  m_kindBox->setCurrentIndex(0);  // rebuilds (immediately: the figure is there)
}

void ExportDialog::setKind(const QString& kindName) {
  int index = m_kindBox->findData(kindName);
  if (index < 0) {
    m_kindBox->addItem(kindName, kindName);
    index = m_kindBox->count() - 1;
  }
  if (index == m_kindBox->currentIndex()) {
    rebuildFigure();
  } else {
    m_kindBox->setCurrentIndex(index);
  }
}

void ExportDialog::setReconstructionComponents(int k) {
  const int index = m_kindBox->findData(QStringLiteral("reconstruction"));
  if (index < 0 || k <= 0) return;
  const QString name = QStringLiteral("reconstruction:%1").arg(k);
  m_kindBox->setItemData(index, name);
  m_kindBox->setItemText(index, QStringLiteral("%1 — %2").arg(
                                    tr("Reconstruction from the top %1 components").arg(k), name));
  if (index == m_kindBox->currentIndex()) rebuildFigure();
}

QString ExportDialog::kind() const {
  return m_kindBox->currentData().toString();
}

void ExportDialog::setFormat(FigureFormat f) {
  m_formatBox->setCurrentIndex(m_formatBox->findData(static_cast<int>(f)));
}

FigureFormat ExportDialog::format() const {
  return static_cast<FigureFormat>(m_formatBox->currentData().toInt());
}

void ExportDialog::setFigureSize(const QSizeF& points) {
  m_updatingSize = true;
  m_width->setValue(points.width());
  m_height->setValue(points.height());
  m_updatingSize = false;
  updatePixelInfo();
  updatePreview();
}

QSizeF ExportDialog::figureSize() const {
  return {m_width->value(), m_height->value()};
}

void ExportDialog::setScale(qreal s) {
  m_scale->setValue(s);
}

qreal ExportDialog::scale() const {
  return m_scale->value();
}

void ExportDialog::setPath(const QString& p) {
  m_pathEdit->setText(p);
  m_pathChosen = true;
}

QString ExportDialog::path() const {
  return m_pathEdit->text().trimmed();
}

QString ExportDialog::message() const {
  return m_message->text();
}

void ExportDialog::showMessage(const QString& text, bool error) {
  m_message->setText(text);
  m_message->setStyleSheet(error ? QStringLiteral("QLabel { color: #b3261e; }") : QString());
}

void ExportDialog::rebuildFigure() {
  const quint64 generation = ++m_generation;
  m_figure.reset();
  m_saveButton->setEnabled(false);
  const QString name = kind();
  if (m_fixedFigure && m_kindBox->currentIndex() == 0 && name == m_fixedKind) {
    m_options = {};
    m_styleInfo->setText(tr("as on screen"));
    onFigureBuilt(m_fixedFigure, {}, generation);
    return;
  }
  const auto& result = m_session->result();
  if (!result) {
    showMessage(tr("Open an image first."), true);
    return;
  }
  PlotKind plot;
  const std::optional<ForegroundPcaOptions> foreground = parseForegroundKind(name);
  try {
    plot = PlotKind::parse(foreground ? std::string("pca") : name.toStdString());
  } catch (const std::exception& e) {
    showMessage(tr("Cannot draw “%1”: %2").arg(name, QString::fromStdString(e.what())), true);
    return;
  }
  // The screen's colormap, scale and opacity (the figure is "what I see", not a default).
  m_options = figureOptionsFor(*m_session, plot);
  m_options.foreground = foreground;
  QString style = describeFigureOptions(m_options);
  if (result->trace && dependsOnLayer(plot))
    style += tr(" · layer: %1").arg(m_session->layerName(result->layerIndex));
  m_styleInfo->setText(style);
  showMessage(tr("Drawing the figure…"), false);
  m_preview->setText(tr("Drawing…"));
  // Filter PCA and reconstruction take a moment: build off the GUI thread.
  auto* watcher = new QFutureWatcher<Built>(this);
  connect(watcher, &QFutureWatcher<Built>::finished, this, [this, watcher, generation] {
    const Built built = watcher->result();
    watcher->deleteLater();
    onFigureBuilt(built.figure, built.error, generation);
  });
  watcher->setFuture(
      QtConcurrent::run([data = figureDataFor(*m_session), plot, options = m_options] {
        Built built;
        try {
          built.figure = makeFigure(plot, data, options);
        } catch (const std::exception& e) {
          built.error = QString::fromStdString(e.what());
        }
        return built;
      }));
}

void ExportDialog::onFigureBuilt(std::shared_ptr<const Figure> figure, const QString& error,
                                 quint64 generation) {
  if (generation != m_generation) return;  // the choice moved on
  if (!figure) {
    showMessage(tr("Cannot draw “%1”: %2").arg(kind(), error), true);
    m_preview->setText(QString());
    return;
  }
  m_figure = std::move(figure);
  if (!m_pathChosen) {
    const QString name = m_kindBox->currentIndex() == 0 && m_fixedFigure ? m_fixedKind : kind();
    m_pathEdit->setText(
        QFileInfo(path()).dir().filePath(fileStem(name) + QLatin1Char('.') + suffixFor(format())));
  }
  showMessage(QString(), false);
  m_saveButton->setEnabled(true);
  setFigureSize(m_figure->preferredSize());
  m_commandInfo->setText(commandLine());
  emit figureReady();
}

void ExportDialog::updatePixelInfo() {
  m_commandInfo->setText(commandLine());
  if (format() != FigureFormat::Png) {
    m_pixelInfo->setText(tr("vector: scales to any size"));
    return;
  }
  const QSizeF s = figureSize();
  m_pixelInfo->setText(tr("%1 dpi · PNG %2 × %3 px")
                           .arg(qRound(scale() * 72.0))
                           .arg(qRound(s.width() * scale()))
                           .arg(qRound(s.height() * scale())));
}

void ExportDialog::updatePreview() {
  if (!m_figure) return;
  const QSizeF s = figureSize();
  const QSize box = m_preview->contentsRect().size() - QSize(8, 8);
  if (s.isEmpty() || box.isEmpty()) return;
  const qreal fit = std::min(box.width() / s.width(), box.height() / s.height());
  const qreal dpr = devicePixelRatioF();
  m_previewImage = FigureExporter::renderToImage(*m_figure, s, fit * dpr);
  m_previewImage.setDevicePixelRatio(dpr);  // shown at the label's size, not the figure's
  m_preview->setPixmap(QPixmap::fromImage(m_previewImage));
}

bool ExportDialog::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_preview && event->type() == QEvent::Resize) updatePreview();
  return QDialog::eventFilter(watched, event);
}

void ExportDialog::onFormatChanged() {
  const QString p = path();
  if (!p.isEmpty()) {
    const QFileInfo info(p);
    m_pathEdit->setText(
        info.dir().filePath(info.completeBaseName() + QLatin1Char('.') + suffixFor(format())));
  }
  // PNG scale is a raster setting: SVG and PDF hide its row (no PNG text beside a PDF).
  const bool png = format() == FigureFormat::Png;
  m_scale->setEnabled(png);
  auto* form = findChild<QFormLayout*>(QStringLiteral("exportForm"));
  auto* scaleRow = findChild<QHBoxLayout*>(QStringLiteral("scaleRow"));
  if (form && scaleRow) form->setRowVisible(scaleRow, png);
  updatePixelInfo();
}

void ExportDialog::browse() {
  const QString filter = tr("PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)");
  QString selected;
  switch (format()) {
    case FigureFormat::Png:
      selected = tr("PNG image (*.png)");
      break;
    case FigureFormat::Svg:
      selected = tr("SVG drawing (*.svg)");
      break;
    case FigureFormat::Pdf:
      selected = tr("PDF document (*.pdf)");
      break;
  }
  const QString chosen =
      QFileDialog::getSaveFileName(this, tr("Export Figure"), path(), filter, &selected);
  if (chosen.isEmpty()) return;
  setPath(chosen);
  m_overwriteConfirmed = chosen;  // the file dialog asked already
  m_pathChosen = true;
  if (const auto f = FigureExporter::formatForPath(chosen)) setFormat(*f);
}

bool ExportDialog::save() {
  if (!m_figure) {
    showMessage(tr("The figure is not ready yet."), true);
    return false;
  }
  QString target = path();
  if (target.isEmpty()) {
    showMessage(tr("Choose a file to write."), true);
    return false;
  }
  // The format menu decides; a name without the matching suffix gets it.
  if (FigureExporter::formatForPath(target) != format())
    target += QLatin1Char('.') + suffixFor(format());
  // An existing file is replaced only on a second Save (no modal question in the way).
  if (QFileInfo::exists(target) && m_overwriteConfirmed != target) {
    m_overwriteConfirmed = target;
    showMessage(
        tr("%1 exists: press Save again to replace it.").arg(QDir::toNativeSeparators(target)),
        true);
    return false;
  }
  try {
    FigureExporter exporter(*m_figure);
    exporter.setSize(figureSize());
    exporter.setScale(scale());
    exporter.write(target, format());
  } catch (const std::exception& e) {
    showMessage(tr("Could not export: %1").arg(QString::fromStdString(e.what())), true);
    return false;
  }
  setPath(target);
  lastExportDirectory() = QFileInfo(target).absolutePath();
  m_overwriteConfirmed.clear();
  showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(target)), false);
  emit saved(target);
  return true;
}

}  // namespace patchlens
