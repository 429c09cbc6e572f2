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
  QString model;  // the weights file (or initializer) this side went through
  QImage input;   // the model input, 8-bit RGB
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

// Two models, one image (issue 23): the image through model A (`a`) and model B (`b`), each
// with its own checkpoint preprocessing (explicit options apply to both), B's forward beside
// A's. Throws Error naming the file.
std::pair<CompareSide, CompareSide> computeCompareModels(const QString& image,
                                                         const PipelineConfig& a,
                                                         const PipelineConfig& b, int heads);

// Model B's config beside the session's: B's weights; the preprocessing the user chose
// explicitly stays, every other field starts from the defaults so that B's checkpoint brings
// its own (as `export --compare-weights` builds B's from the command line).
PipelineConfig secondModelConfig(const PipelineConfig& a, const std::string& weightsB);

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

// One layer of two models at matching relative depth: B's layer index from A's
// (layerIndexAtRelativeDepth), each side's PCA as RGB [N x 3] (tokenPca + pcaToRgb, as
// `export --plot pca`) and every cosine similarity among its own patches [N x N] (a selected
// patch's map is a row).
struct ModelsLayer {
  int layerA = 0;
  int layerB = 0;
  RowMatrixF rgbA, rgbB;
  RowMatrixF similarityA, similarityB;
};

// The layer index of B matching A's `layer` (both patch-embedding-only: 0).
int matchingLayerOfB(const CompareSide& a, const CompareSide& b, int layer);
ModelsLayer computeModelsLayer(const CompareSide& a, const CompareSide& b, int layer);

}  // namespace patchlens
