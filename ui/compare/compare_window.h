#pragma once

#include <QFutureWatcher>
#include <QWidget>
#include <memory>
#include <optional>

#include "core/model/pipeline.h"
#include "ui/compare/compare_canvas.h"
#include "ui/compare/compare_data.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace patchlens {

class Session;

// Compare mode (issue 23), a window of its own with two pairings. Two images, one model:
// image A and image B side by side; the similarity of the patch under the mouse over the other
// image with its best match, the K best mutual nearest neighbours as lines, or the joint PCA.
// Two models, one image: the image through model A and model B (each with its own checkpoint
// preprocessing) at matching relative depth (layer l of A beside round(l · depth_B / depth_A)
// of B, layerIndexAtRelativeDepth as `export --compare-weights`): PCA, attention (block, head)
// or the selected patch's similarity, each side titled with its model and layer. Linked: one
// layer control, one colormap, a patch picked on either side marked on both. Both forwards
// and every layer's analyses run on the thread pool; a generation counter drops stale results.
class CompareWindow : public QWidget {
  Q_OBJECT

 public:
  enum class Pairing { TwoImages, TwoModels };

  // Two images through one model.
  CompareWindow(const QString& imageA, const QString& imageB, const PipelineConfig& config,
                int heads, QWidget* parent = nullptr);
  // One image through two models: `configA` (the session's) and `configB`
  // (secondModelConfig for a second weights file).
  CompareWindow(const QString& image, const PipelineConfig& configA, const PipelineConfig& configB,
                int heads, QWidget* parent = nullptr);
  ~CompareWindow() override;

  // View ▸ Compare…: A is the session's image, B is asked for; the window owns itself.
  static void openFor(QWidget* parent, const Session& session);
  // View ▸ Compare models…: the session's image and model, a second weights file asked for.
  static void openModelsFor(QWidget* parent, const Session& session);

  // Tests and screenshots.
  Pairing pairing() const { return m_pairing; }
  bool isBusy() const { return m_busy; }
  int layer() const;
  void setLayer(int layer);
  void setMode(CompareCanvas::Mode mode);
  void setMatchCount(int k);
  void setForeground(std::optional<double> threshold);
  void setHead(int head);  // -1: the mean over heads
  void setColormap(ColormapId colormap);
  CompareCanvas* canvas() const { return m_canvas; }
  std::shared_ptr<const CompareLayer> layerResult() const { return m_layer; }
  std::shared_ptr<const ModelsLayer> modelsResult() const { return m_models; }
  std::shared_ptr<const std::pair<CompareSide, CompareSide>> sides() const { return m_sides; }
  QString errorText() const { return m_error; }

 signals:
  void idle();

 private:
  CompareWindow(Pairing pairing, const QString& imageA, const PipelineConfig& configA,
                const PipelineConfig& configB, int heads, QWidget* parent);
  void openSecond();
  void start(const QString& second);
  void computeLayer();
  // `work` on the pool; its result goes to `publish` unless a newer job has started.
  template <typename T, typename Work, typename Publish>
  void runLayerJob(quint64 generation, Work work, Publish publish);
  void updateCaptions();
  void updateStatus();
  QString modelName(bool b) const;

  Pairing m_pairing;
  QString m_imageA;
  QString m_imageB;  // two images: B's path
  PipelineConfig m_config;
  PipelineConfig m_configB;  // two models: B's
  int m_heads = 0;
  std::shared_ptr<const std::pair<CompareSide, CompareSide>> m_sides;
  std::shared_ptr<const CompareLayer> m_layer;
  std::shared_ptr<const ModelsLayer> m_models;
  quint64 m_generation = 0;
  bool m_busy = false;
  bool m_started = false;
  QString m_error;

  CompareCanvas* m_canvas = nullptr;
  QComboBox* m_layerBox = nullptr;
  QComboBox* m_modeBox = nullptr;
  QSpinBox* m_countBox = nullptr;
  QCheckBox* m_foregroundBox = nullptr;
  QDoubleSpinBox* m_thresholdBox = nullptr;
  QSpinBox* m_headBox = nullptr;
  QComboBox* m_colormapBox = nullptr;
  QLabel* m_status = nullptr;
};

}  // namespace patchlens
