#include "core/analysis/class_explainer.h"

#include <algorithm>
#include <numeric>

#include "core/analysis/gradcam.h"
#include "core/analysis/relevance.h"
#include "core/io/error.h"

namespace patchlens {

ClassExplainer::ClassExplainer(std::shared_ptr<const TransformerWeights> weights,
                               std::optional<ClassifierHead> head, const ChwTensor& input)
    : m_engine(std::move(weights)), m_head(std::move(head)) {
  m_trace = m_engine.forward(input);
  if (m_head) m_logits = m_head->logits(m_trace.final, m_engine.config());
}

int ClassExplainer::topClass() const {
  if (m_logits.size() == 0) return -1;
  Eigen::Index top = 0;
  m_logits.maxCoeff(&top);  // the first of equal maxima, as torch.argmax
  return static_cast<int>(top);
}

ClassExplanation ClassExplainer::explainClass(int k) const {
  if (!m_head) throw Error("", "the model has no classifier head");
  const int classes = m_head->classes();
  if (k < 0) k = topClass();
  if (k >= classes) {
    throw Error("", "class " + std::to_string(k) + " does not exist: the head has " +
                        std::to_string(classes) + " classes (0.." + std::to_string(classes - 1) +
                        ")");
  }
  VectorF unit = VectorF::Zero(classes);
  unit[k] = 1.0f;
  ClassExplanation e;
  e.classIndex = k;
  e.target = m_logits[k];
  return explainFrom(m_head->backward(m_trace.final, m_engine.config(), unit), std::move(e));
}

ClassExplanation ClassExplainer::explainPatch(int row, int col) const {
  const TransformerConfig& c = m_engine.config();
  if (row < 0 || col < 0 || row >= m_trace.gridRows || col >= m_trace.gridCols) {
    throw Error("", "patch (" + std::to_string(row) + ", " + std::to_string(col) +
                        ") is outside the " + std::to_string(m_trace.gridRows) + " x " +
                        std::to_string(m_trace.gridCols) + " grid");
  }
  ClassExplanation e;
  e.patchRow = row;
  e.patchCol = col;
  RowMatrixF gradFinal;
  e.target = patchSimilarityTarget(m_trace.final, c,
                                   c.prefixTokens() + row * m_trace.gridCols + col, gradFinal);
  return explainFrom(gradFinal, std::move(e));
}

ClassExplanation ClassExplainer::explainFrom(const RowMatrixF& gradFinal,
                                             ClassExplanation e) const {
  const TransformerConfig& c = m_engine.config();
  RelevanceAccumulator relevance(c.depth);
  const BackwardResult grads = m_engine.backward(
      m_trace, gradFinal,
      [&](int block, const std::vector<RowMatrixF>& gradHeads,
          const std::vector<RowMatrixF>& heads) { relevance.addBlock(block, gradHeads, heads); });
  e.gradcam = gradCamMap(m_trace.blocks.back().normed1, grads.gradLastNormed1, m_trace.gridRows,
                         m_trace.gridCols);
  e.relevance = relevance.map(c.classToken, m_trace.gridRows, m_trace.gridCols);
  return e;
}

std::vector<int> topClasses(const VectorF& logits, int k) {
  std::vector<int> order(static_cast<std::size_t>(logits.size()));
  std::iota(order.begin(), order.end(), 0);
  const auto top = static_cast<std::ptrdiff_t>(
      std::clamp<std::size_t>(static_cast<std::size_t>(std::max(k, 0)), 0, order.size()));
  std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  order.resize(static_cast<std::size_t>(top));
  return order;
}

std::string explanationTargetName(const ClassExplanation& e, const ClassifierHead* head,
                                  bool classToken) {
  if (e.classIndex >= 0) {
    std::string name = "class " + std::to_string(e.classIndex);
    if (head && e.classIndex < head->classes()) {
      const std::string& label = head->labels[static_cast<std::size_t>(e.classIndex)];
      if (label != name) name += " " + label;
    }
    return name;
  }
  return "patch (" + std::to_string(e.patchRow) + ", " + std::to_string(e.patchCol) +
         ") similar to the " + (classToken ? "class token" : "mean patch token");
}

}  // namespace patchlens
