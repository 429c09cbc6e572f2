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
class QSpinBox;

namespace patchlens {

class Session;

// Compare mode (issue 23): image A and image B through one model, side by side, one layer
// control for both; the similarity of the patch under the mouse over the other image with its
// best match, the K best mutual nearest neighbours as lines, or the joint PCA. Both forwards
// and every layer's analyses run on the thread pool; a generation counter drops stale results.
class CompareWindow : public QWidget {
  Q_OBJECT

 public:
  CompareWindow(const QString& imageA, const QString& imageB, const PipelineConfig& config,
                int heads, QWidget* parent = nullptr);
  ~CompareWindow() override;

  // View ▸ Compare…: A is the session's image, B is asked for; the window owns itself.
  static void openFor(QWidget* parent, const Session& session);

  // Tests and screenshots.
  bool isBusy() const { return m_busy; }
  int layer() const;
  void setLayer(int layer);
  void setMode(CompareCanvas::Mode mode);
  void setMatchCount(int k);
  void setForeground(std::optional<double> threshold);
  CompareCanvas* canvas() const { return m_canvas; }
  std::shared_ptr<const CompareLayer> layerResult() const { return m_layer; }
  QString errorText() const { return m_error; }

 signals:
  void idle();

 private:
  void openImageB();
  void start(const QString& imageB);
  void computeLayer();
  void updateStatus();

  QString m_imageA;
  QString m_imageB;
  PipelineConfig m_config;
  int m_heads = 0;
  std::shared_ptr<const std::pair<CompareSide, CompareSide>> m_sides;
  std::shared_ptr<const CompareLayer> m_layer;
  quint64 m_generation = 0;
  bool m_busy = false;
  QString m_error;

  CompareCanvas* m_canvas = nullptr;
  QComboBox* m_layerBox = nullptr;
  QComboBox* m_modeBox = nullptr;
  QSpinBox* m_countBox = nullptr;
  QCheckBox* m_foregroundBox = nullptr;
  QDoubleSpinBox* m_thresholdBox = nullptr;
  QLabel* m_status = nullptr;
};

}  // namespace patchlens
