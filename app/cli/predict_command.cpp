#include "app/cli/predict_command.h"

#include <algorithm>
#include <iomanip>
#include <numeric>

#include "core/io/error.h"
#include "core/model/initializers.h"
#include "core/model/nonfinite.h"
#include "core/model/transformer_families.h"
#include "core/weights/npz_writer.h"
#include "core/weights/tensor_source_factory.h"

namespace patchlens::cli {
namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ClassifierModel loadClassifierModel(const CommandLine& cl) {
  const std::string& path = cl.config.weights.source;
  if (parseInitializer(path))
    throw UsageError("this command needs a checkpoint with transformer blocks: --weights FILE");
  TransformerLoadOptions options;
  options.heads = cl.heads;
  options.patch = cl.config.weights.file;
  const std::unique_ptr<TensorSource> source = openTensorSource(path);
  std::string whyNot;
  ClassifierModel model;
  model.weights = readTransformer(*source, path, options, &whyNot);
  if (!model.weights) throw Error(path, "only a patch embedding, no transformer to run: " + whyNot);
  model.encoder.emplace(model.weights);
  model.head =
      readClassifierHead(*source, path, model.weights->config, options.patch, &model.whyNoHead);
  if (model.head && !cl.labels.empty()) setLabelsFromFile(*model.head, cl.labels);
  return model;
}

void checkPredictOptions(const CommandLine& cl) {
  if (!cl.output.empty() && !endsWith(cl.output, ".npz"))
    throw UsageError("predict writes -o OUT.npz (logits and probabilities)");
}

void runPredict(const CommandLine& cl, const ClassifierModel& model, const ChwTensor& input,
                const std::string& inputName, std::ostream& out, std::ostream& err) {
  const std::string& path = cl.config.weights.source;
  if (!model.head) throw Error(path, "no classifier head to predict with: " + model.whyNoHead);
  const ClassifierHead& head = *model.head;
  const TransformerConfig& c = model.encoder->config();
  TransformerOutput result;
  try {
    result = model.encoder->forward(input);
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(inputName, e.reason());
  }
  const VectorF logits = head.logits(result.final, c);
  const VectorF probabilities = softmax(logits);
  // NaN logits would rank and print as classes with exit 0 (issue 24): refused, or warned.
  if (const std::int64_t bad =
          countNonFinite(logits.data(), static_cast<std::size_t>(logits.size()))) {
    const std::string what = std::to_string(bad) + " non-finite logits (NaN/Inf)";
    if (!cl.allowNonFinite) throw Error(path, what + "; --allow-nonfinite prints them anyway");
    err << "patchlens-cli: warning: " << printable(path) << ": " << what << "\n";
  }
  const int classes = head.classes();
  std::vector<int> order(static_cast<std::size_t>(classes));
  std::iota(order.begin(), order.end(), 0);
  const int top = std::min(cl.top, classes);
  // Ties keep the lower class index first, as torch.topk on CPU does for equal values.
  std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  if (!cl.output.empty()) {
    NpzWriter npz(cl.output);
    npz.add("logits", {classes}, logits.data());
    npz.add("probabilities", {classes}, probabilities.data());
    npz.commit();
  }
  for (int r = 0; r < top; ++r) {
    const int k = order[static_cast<std::size_t>(r)];
    out << r + 1 << '\t' << k << '\t' << printable(head.labels[static_cast<std::size_t>(k)]) << '\t'
        << std::setprecision(6) << probabilities[k] << '\n';
  }
  err << "patchlens-cli: note: " << head.description << ", " << classes
      << " classes, labels: " << head.labelsSource << " (" << c.family << ")"
      << (cl.output.empty() ? "" : "; wrote " + printable(cl.output)) << "\n";
}

}  // namespace patchlens::cli
