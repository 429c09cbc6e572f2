#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/image/chw_tensor.h"
#include "core/model/backward/transformer_backward.h"
#include "core/model/eigen_types.h"
#include "core/model/heads/classifier_head.h"

namespace patchlens {

// The maps `explain` writes, for one target: a class's logit, or the similarity of one patch.
struct ClassExplanation {
  int classIndex = -1;  // the explained class; -1 for a patch target
  int patchRow = -1;    // the patch of a similar:R,C target
  int patchCol = -1;
  float target = 0;      // logits[classIndex] or the cosine similarity
  RowMatrixF gradcam;    // [rows x cols], relu(A w), not normalised
  RowMatrixF relevance;  // [rows x cols], Chefer et al. 2021
};

// One forward with the activations kept, then one exact backward per target: the GUI's
// Grad-CAM / relevance overlays and `export --plot gradcam|relevance` (the same arrays as the
// `explain` command). Not thread-safe per instance; const calls only read the trace.
class ClassExplainer {
 public:
  // Throws Error (no file) with TransformerBackward::unsupportedReason, or as forward() does.
  ClassExplainer(std::shared_ptr<const TransformerWeights> weights,
                 std::optional<ClassifierHead> head, const ChwTensor& input);

  const TransformerConfig& config() const { return m_engine.config(); }
  bool hasHead() const { return m_head.has_value(); }
  const ClassifierHead* head() const { return m_head ? &*m_head : nullptr; }
  const VectorF& logits() const { return m_logits; }  // empty without a head
  int topClass() const;                               // -1 without a head
  int gridRows() const { return m_trace.gridRows; }
  int gridCols() const { return m_trace.gridCols; }

  // d logits[k] / d ... ; k = -1: the top class. Throws Error without a head or for k out of
  // range.
  ClassExplanation explainClass(int k) const;
  // d cos(final[patch], class token or mean patch) / d ... for patch (row, col).
  ClassExplanation explainPatch(int row, int col) const;

 private:
  ClassExplanation explainFrom(const RowMatrixF& gradFinal, ClassExplanation e) const;

  TransformerBackward m_engine;
  std::optional<ClassifierHead> m_head;
  ForwardTrace m_trace;
  VectorF m_logits;
};

// The k highest logits' classes, highest first; ties keep the lower class first (torch.topk on
// CPU, as `predict` prints them).
std::vector<int> topClasses(const VectorF& logits, int k);

// "class 281 tabby" or "patch (3, 4) similar to the class token": how titles name a target.
std::string explanationTargetName(const ClassExplanation& e, const ClassifierHead* head,
                                  bool classToken);

}  // namespace patchlens
