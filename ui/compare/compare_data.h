#pragma once

#include <QImage>
#include <QString>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/analysis/correspondences.h"
#include "core/analysis/joint_pca.h"
#include "core/analysis/layer_trace.h"
#include "core/model/patch_embedding.h"
#include "core/model/pipeline.h"

namespace patchlens {

// One image of the compare window through the model: its input, grid and every layer's
// tokens (the trace; null for weights that hold only a patch embedding).
struct CompareSide {
  QString path;
  QImage input;  // the model input, 8-bit RGB
  GridSize grid;
  int patchSize = 0;
  Embedding patchEmbedding;
  std::shared_ptr<const LayerTrace> trace;

  int layerCount() const { return trace ? trace->layerCount() : 1; }
  QString layerName(int layer) const;
  RowMatrixF patchTokens(int layer) const;
};

// Both images through one model (read once), B's forward beside A's. Runs on a worker
// thread; throws Error naming the file.
std::pair<CompareSide, CompareSide> computeCompareSides(const QString& pathA, const QString& pathB,
                                                        const PipelineConfig& config, int heads);

// What the window shows of one layer: every cosine similarity between A's and B's patches
// (hover reads a row or a column), the mutual nearest neighbours, the joint PCA.
struct CompareLayer {
  int layer = 0;
  RowMatrixF similarity;            // [N_a x N_b]
  std::vector<PatchMatch> matches;  // every mutual pair, best first (foreground only if asked)
  JointPca joint;
};

// `foreground`: restrict the matches and add the foreground step to the joint PCA.
CompareLayer computeCompareLayer(const CompareSide& a, const CompareSide& b, int layer,
                                 std::optional<ForegroundPcaOptions> foreground);

}  // namespace patchlens
