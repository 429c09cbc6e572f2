#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "app/cli/command_line.h"
#include "core/image/chw_tensor.h"
#include "core/model/heads/classifier_head.h"
#include "core/model/transformer_weights.h"
#include "core/model/vision_transformer.h"

namespace patchlens::cli {

// The encoder of --weights FILE and its classifier head when the checkpoint has one.
struct ClassifierModel {
  std::shared_ptr<const TransformerWeights> weights;
  std::optional<VisionTransformer> encoder;  // always set once loaded
  std::optional<ClassifierHead> head;
  std::string whyNoHead;  // when head is empty
};

// Reads --weights (with --heads, --key) once for the encoder and the head, and applies --labels.
// Throws UsageError when --weights is an initializer, Error when the file has no transformer.
ClassifierModel loadClassifierModel(const CommandLine& cl);

// Checks -o / --top / --labels before any work.
void checkPredictOptions(const CommandLine& cl);

// The top --top classes on stdout (rank, class index, label, probability; tab-separated) and,
// with -o, an .npz of logits [C] and probabilities [C]. Throws Error without a head.
void runPredict(const CommandLine& cl, const ClassifierModel& model, const ChwTensor& input,
                const std::string& inputName, std::ostream& out, std::ostream& err);

}  // namespace patchlens::cli
