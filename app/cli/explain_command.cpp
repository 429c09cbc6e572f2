#include "app/cli/explain_command.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <iomanip>

#include "core/analysis/gradcam.h"
#include "core/analysis/relevance.h"
#include "core/io/error.h"
#include "core/model/backward/transformer_backward.h"
#include "core/model/nonfinite.h"
#include "core/weights/npz_writer.h"

namespace patchlens::cli {
namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const std::string kSimilarTo = "similar-to";

// What the pooled embedding is, as the summary line names it.
std::string pooledName(const TransformerConfig& c) {
  return c.classToken ? "class token" : "mean patch token";
}

// --target similar-to B: B's pooled final embedding, the constant of the target.
VectorF pooledEmbeddingOf(const ClassifierModel& model, const SimilarToInput& b) {
  try {
    return pooledEmbedding(model.encoder->forward(b.tensor).final, model.weights->config);
  } catch (const Error& e) {
    throw Error(e.file().empty() ? b.name : e.file(), e.reason());
  }
}

struct PatchTarget {
  int row = 0, col = 0;
};

// "similar:R,C" -> (R, C); UsageError otherwise.
PatchTarget parseTarget(const std::string& text) {
  const std::string prefix = "similar:";
  const auto fail = [&]() -> PatchTarget {
    throw UsageError(
        "--target needs similar:ROW,COL (a patch of the grid) or similar-to IMAGE, got '" + text +
        "'");
  };
  if (text.rfind(prefix, 0) != 0) return fail();
  const std::string rest = text.substr(prefix.size());
  const std::size_t comma = rest.find(',');
  if (comma == std::string::npos) return fail();
  PatchTarget t;
  const auto number = [&](const std::string& s, int& value) {
    const char* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, value);
    if (s.empty() || ec != std::errc() || ptr != end || value < 0) fail();
  };
  number(rest.substr(0, comma), t.row);
  number(rest.substr(comma + 1), t.col);
  return t;
}

std::vector<std::int64_t> shapeOf(const RowMatrixF& m) {
  return {m.rows(), m.cols()};
}

}  // namespace

void checkExplainOptions(const CommandLine& cl) {
  if (!endsWith(cl.output, ".npz")) throw UsageError("explain writes -o OUT.npz");
  if (!cl.target.empty()) {
    if (cl.target != kSimilarTo) parseTarget(cl.target);
    if (cl.classIndex >= 0) throw UsageError("give either --class K or --target");
  }
}

void runExplain(const CommandLine& cl, const ClassifierModel& model, const ChwTensor& input,
                const std::string& inputName, std::ostream& out, const SimilarToInput* similarTo,
                std::ostream* err) {
  const auto start = std::chrono::steady_clock::now();
  const std::string& path = cl.config.weights.source;
  const TransformerConfig& c = model.weights->config;
  if (cl.target.empty() && !model.head)
    throw Error(path, "no classifier head (" + model.whyNoHead +
                          "); explain a patch instead with --target similar:ROW,COL (or "
                          "--target similar-to IMAGE)");
  if (model.head && cl.classIndex >= model.head->classes())
    throw UsageError("--class needs 0.." + std::to_string(model.head->classes() - 1) +
                     " (the head has " + std::to_string(model.head->classes()) + " classes), got " +
                     std::to_string(cl.classIndex));
  if (const std::string why = TransformerBackward::unsupportedReason(*model.weights); !why.empty())
    throw Error(path, why);
  const TransformerBackward engine(model.weights);
  ForwardTrace trace;
  try {
    trace = engine.forward(input);
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(inputName, e.reason());
  }
  const int rows = trace.gridRows, cols = trace.gridCols;
  VectorF logits;
  if (model.head) logits = model.head->logits(trace.final, c);
  std::int64_t classIndex = -1;
  float target = 0;
  RowMatrixF gradFinal;
  std::string what;
  if (cl.target.empty()) {
    classIndex = cl.classIndex;
    if (classIndex < 0) logits.maxCoeff(&classIndex);
    target = logits[classIndex];
    VectorF unit = VectorF::Zero(logits.size());
    unit[classIndex] = 1.0f;
    gradFinal = model.head->backward(trace.final, c, unit);
    what = "logit of class " + std::to_string(classIndex) + " (" +
           printable(model.head->labels[static_cast<std::size_t>(classIndex)]) + ")";
  } else if (cl.target == kSimilarTo) {
    if (!similarTo) throw UsageError("--target similar-to needs an IMAGE");
    const VectorF other = pooledEmbeddingOf(model, *similarTo);
    try {
      target = embeddingSimilarityTarget(trace.final, c, other, gradFinal);
    } catch (const Error& e) {
      throw Error(inputName, e.reason());
    }
    what = "cosine similarity of the pooled final embedding (" + pooledName(c) + ") to " +
           printable(similarTo->name) + "'s";
  } else {
    const PatchTarget p = parseTarget(cl.target);
    if (p.row >= rows || p.col >= cols)
      throw UsageError("--target similar:" + std::to_string(p.row) + "," + std::to_string(p.col) +
                       " is outside the " + std::to_string(rows) + " x " + std::to_string(cols) +
                       " grid");
    try {
      target =
          patchSimilarityTarget(trace.final, c, c.prefixTokens() + p.row * cols + p.col, gradFinal);
    } catch (const Error& e) {
      throw Error(inputName, e.reason());
    }
    what = "cosine similarity of patch (" + std::to_string(p.row) + ", " + std::to_string(p.col) +
           ") to the " + pooledName(c);
  }

  std::vector<std::vector<RowMatrixF>> gradAttention(static_cast<std::size_t>(c.depth));
  RelevanceAccumulator relevance(c.depth);
  const BackwardResult grads =
      engine.backward(trace, gradFinal,
                      [&](int block, const std::vector<RowMatrixF>& gradHeads,
                          const std::vector<RowMatrixF>& heads) {
                        relevance.addBlock(block, gradHeads, heads);
                        gradAttention[static_cast<std::size_t>(block - 1)] = gradHeads;
                      });
  const RowMatrixF cam = gradCamMap(trace.blocks.back().normed1, grads.gradLastNormed1, rows, cols);
  const RowMatrixF relevanceMap = relevance.map(c.classToken, rows, cols);

  // Overflowing weights or a subnormal std end in NaN: never written with exit 0 (issue 24).
  std::int64_t nonFinite = 0;
  std::string firstNonFinite;
  const auto count = [&](const std::string& name, const float* data, std::size_t size) {
    const std::int64_t bad = countNonFinite(data, size);
    if (bad > 0 && firstNonFinite.empty()) firstNonFinite = name;
    nonFinite += bad;
  };
  const auto size = [](const auto& m) { return static_cast<std::size_t>(m.size()); };
  count("the final tokens", trace.final.data(), size(trace.final));
  count("logits", logits.data(), size(logits));
  count("target", &target, 1);
  for (std::size_t l = grads.gradTokens.size(); l-- > 0;)
    count("grad_tokens_" + std::to_string(l), grads.gradTokens[l].data(),
          size(grads.gradTokens[l]));
  for (std::size_t l = 0; l < gradAttention.size(); ++l)
    for (const RowMatrixF& h : gradAttention[l])
      count("grad_attention_" + std::to_string(l + 1), h.data(), size(h));
  count("gradcam", cam.data(), size(cam));
  count("relevance", relevanceMap.data(), size(relevanceMap));
  if (nonFinite > 0) {
    const std::string file =
        model.encoder->patchWeights().file.empty() ? inputName : model.encoder->patchWeights().file;
    const std::string problem = std::to_string(nonFinite) +
                                " non-finite values (NaN/Inf) in explain's arrays, first in " +
                                firstNonFinite;
    if (!cl.allowNonFinite) throw Error(file, problem + "; --allow-nonfinite writes them anyway");
    if (err) *err << "patchlens-cli: warning: " << printable(file) << ": " << problem << "\n";
  }

  NpzWriter npz(cl.output);
  if (model.head) npz.add("logits", {logits.size()}, logits.data());
  if (classIndex >= 0) npz.addInt64("class", {}, &classIndex);
  npz.add("target", {}, &target);
  for (std::size_t l = 0; l < grads.gradTokens.size(); ++l)
    npz.add("grad_tokens_" + std::to_string(l), shapeOf(grads.gradTokens[l]),
            grads.gradTokens[l].data());
  for (std::size_t l = 0; l < gradAttention.size(); ++l) {
    std::vector<const float*> parts;
    for (const RowMatrixF& h : gradAttention[l]) parts.push_back(h.data());
    const std::int64_t tokens = gradAttention[l].front().rows();
    npz.add("grad_attention_" + std::to_string(l + 1),
            {static_cast<std::int64_t>(parts.size()), tokens, tokens}, parts);
  }
  npz.add("gradcam", shapeOf(cam), cam.data());
  npz.add("relevance", shapeOf(relevanceMap), relevanceMap.data());
  npz.commit();
  out << "wrote " << printable(cl.output) << ": target = " << what << " = " << std::setprecision(6)
      << target << "; grad_tokens_0.." << c.depth << ", grad_attention_1.." << c.depth
      << ", gradcam and relevance [" << rows << ", " << cols << "] (" << c.family << ", "
      << std::fixed << std::setprecision(1)
      << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count()
      << " ms)\n";
}

}  // namespace patchlens::cli
