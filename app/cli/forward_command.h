#pragma once

#include <ostream>
#include <string>

#include "app/cli/command_line.h"
#include "core/image/chw_tensor.h"
#include "core/model/vision_transformer.h"

namespace patchlens::cli {

// The transformer of --weights FILE (with --heads, --key); throws UsageError when --weights is
// an initializer and Error when the file has no transformer or a bad one.
VisionTransformer loadTransformer(const CommandLine& cl);

// The resource plan of a forward over this model input (tokens, memory, output), refused over
// --max-memory-mb / --max-output-mb in one line naming the weights file.
void checkForwardPlan(const CommandLine& cl, const VisionTransformer& vit,
                      const PreprocessConfig& input);

// Checks -o / --layer / --attention before any work: UsageError on a mismatch.
void checkForwardOutput(const CommandLine& cl);

// Runs the encoder on input and writes -o (an .npz of every layer, or one --layer .npy).
// Before any compute the resource plan (tokens, memory, output) is checked against
// --max-memory-mb / --max-output-mb; after it, NaN/Inf in what would be written is refused
// (warned on err with --allow-nonfinite).
void runForward(const CommandLine& cl, const VisionTransformer& vit, const ChwTensor& input,
                const std::string& inputName, std::ostream& out, std::ostream& err);

// `info`'s lines about the transformer in a weight file (family, depth, heads and where they
// came from, widths, prefix tokens), or why it holds only a patch embedding.
void describeTransformer(const CommandLine& cl, const std::string& path, std::ostream& out);

}  // namespace patchlens::cli
