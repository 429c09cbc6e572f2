#pragma once

#include <ostream>
#include <string>

#include "app/cli/command_line.h"
#include "app/cli/predict_command.h"
#include "core/image/chw_tensor.h"

namespace patchlens::cli {

// explain --target similar-to B: B's model input (read as A is) and its name for messages.
struct SimilarToInput {
  ChwTensor tensor;
  std::string name;
};

// Checks -o / --class / --target before any work: UsageError on a mismatch.
void checkExplainOptions(const CommandLine& cl);

// Forward with activations kept, the exact backward from the target (logits[K], K = --class or
// the top class; or --target similar:R,C; or --target similar-to B with `similarTo`), and -o
// OUT.npz with logits, class, target, grad_tokens_L, grad_attention_L, gradcam and relevance.
// One summary line on stdout. NaN/Inf in what it would write is refused (with --allow-nonfinite:
// written, one warning on *err).
void runExplain(const CommandLine& cl, const ClassifierModel& model, const ChwTensor& input,
                const std::string& inputName, std::ostream& out,
                const SimilarToInput* similarTo = nullptr, std::ostream* err = nullptr);

}  // namespace patchlens::cli
