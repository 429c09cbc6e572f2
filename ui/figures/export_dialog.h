#pragma once

#include <QDialog>
#include <QImage>
#include <QSizeF>
#include <QString>
#include <memory>

#include "ui/figures/figure_data.h"
#include "ui/figures/figure_exporter.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;

namespace patchlens {

class Figure;
class Session;

// File > Export… (Ctrl+E) and every figure's context menu: which figure (from the current
// view and selection, or the figure that was right-clicked), format PNG / SVG / PDF, size in
// points, PNG scale (dpi), a live preview, and an atomic write through FigureExporter.
class ExportDialog : public QDialog {
  Q_OBJECT

 public:
  explicit ExportDialog(Session* session, QWidget* parent = nullptr);
  ~ExportDialog() override;

  // Offers `figure` (already drawn by a view) as "This view" and selects it.
  void setFixedFigure(std::shared_ptr<const Figure> figure, const QString& kindName);
  // Selects a figure by its PlotKind name ("channel:5"; the DINOv2 PCA: "pca --foreground
  // 0.50", as the CLI draws it), adding it when not listed.
  void setKind(const QString& kindName);
  QString kind() const;
  // The reconstruction entry keeps the top `k` components, as the dock shows (0 = all).
  void setReconstructionComponents(int k);
  // The style the figure is drawn with: the screen's colormap, scale and opacity.
  const FigureOptions& figureOptions() const { return m_options; }
  void setFormat(FigureFormat format);
  FigureFormat format() const;
  void setFigureSize(const QSizeF& points);
  QSizeF figureSize() const;
  // PNG pixels per point (1 = 72 dpi).
  void setScale(qreal scale);
  qreal scale() const;
  void setPath(const QString& path);
  QString path() const;

  // The patchlens-cli call that draws the chosen figure (without the program name): image,
  // --weights, --plot, --layer, --query, --colormap, ... as on screen, -o the chosen path.
  QStringList commandArguments() const;
  // The same as one shell line, as the dialog shows it.
  QString commandLine() const;
  // `patchlens-cli ARGS` as one POSIX shell line (File > Export Data shows one too).
  static QString commandLineOf(const QStringList& args);
  bool isFigureReady() const { return m_figure != nullptr; }
  const std::shared_ptr<const Figure>& figure() const { return m_figure; }
  // The preview as last rendered.
  QImage preview() const { return m_previewImage; }
  // What the dialog says (errors, "Saved …").
  QString message() const;

  // Writes the figure to path() in format(); false (with message()) on any failure, which
  // leaves no file behind.
  bool save();

 signals:
  void figureReady();
  void saved(const QString& path);

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void populateKinds();
  void addTransformerKinds();
  // prediction, gradcam:K, relevance:K for the explained class (issue 22); disabled with the
  // reason without a classifier.
  void addClassifierKinds();
  QString defaultKind() const;
  void rebuildFigure();
  void onFigureBuilt(std::shared_ptr<const Figure> figure, const QString& error,
                     quint64 generation);
  void updatePreview();
  void updatePixelInfo();
  void onFormatChanged();
  void browse();
  void showMessage(const QString& text, bool error);

  Session* m_session;
  std::shared_ptr<const Figure> m_fixedFigure;
  QString m_fixedKind;
  std::shared_ptr<const Figure> m_figure;
  quint64 m_generation = 0;
  FigureOptions m_options;
  QImage m_previewImage;
  bool m_updatingSize = false;
  bool m_pathChosen = false;  // typed or browsed: no longer follows the figure's name

  QComboBox* m_kindBox;
  QComboBox* m_formatBox;
  QDoubleSpinBox* m_width;
  QDoubleSpinBox* m_height;
  QDoubleSpinBox* m_scale;
  QLabel* m_pixelInfo;
  QLabel* m_styleInfo;
  QLabel* m_commandInfo;
  QString m_overwriteConfirmed;  // the existing file a second Save may replace
  QLabel* m_preview;
  QLineEdit* m_pathEdit;
  QLabel* m_message;
  QPushButton* m_saveButton;
};

}  // namespace patchlens
