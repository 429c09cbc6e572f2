#pragma once

#include <QWidget>

#include "core/model/pipeline.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace patchlens {

class Session;

// Weights and preprocessing. Every change asks the session to recompute in the
// background; the fields follow the session's config (and lock what a weight file fixes).
class ModelPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ModelPanel(Session* session, QWidget* parent = nullptr);

 signals:
  void openWeightsRequested();

 private:
  void syncFromSession();
  void apply();
  void enableSizeFor(ResizeMode mode);

  Session* m_session;
  QComboBox* m_weights;
  QSpinBox* m_seed;
  QPushButton* m_openWeights;
  QLabel* m_weightsInfo;
  QSpinBox* m_height;
  QSpinBox* m_width;
  QSpinBox* m_patchSize;
  QSpinBox* m_embedDim;
  QComboBox* m_resize;
  QDoubleSpinBox* m_cropPct;
  QComboBox* m_interpolation;
  QComboBox* m_normalization;
  QComboBox* m_remainder;
  QCheckBox* m_fastDecode;
  bool m_syncing = false;
};

}  // namespace patchlens
