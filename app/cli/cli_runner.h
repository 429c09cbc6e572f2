#pragma once

#include <iosfwd>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "app/cli/command_line.h"
#include "app/cli/predict_command.h"
#include "core/image/chw_tensor.h"

namespace patchlens::cli {

// Runs patchlens-cli with argv[1..]; returns the exit status (0 ok, 1 failed, 2 usage).
int runCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Prints each warning as one escaped line "patchlens-cli: warning: <file>: <reason>" to err.
void printWarnings(std::ostream& err, const std::string& file,
                   const std::vector<std::string>& warnings);

// What predict, explain and export's classifier kinds run on: the model with its head and the
// input (--tensor X.npy as is, else IMAGE decoded and preprocessed for the model's patch
// embedding; inputRgb is that model input as 8-bit pixels, empty for --tensor).
struct ClassifierRun {
  ClassifierModel model;
  ChwTensor input;
  std::string inputName;
  cv::Mat inputRgb;
};
// Reads the input first (the likelier mistake fails fastest), then the model; the image's
// decode warnings go to err.
ClassifierRun loadClassifierRun(const CommandLine& cl, std::ostream& err);

}  // namespace patchlens::cli
