#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "core/model/pipeline.h"

namespace patchlens::cli {

// Bad usage (unknown option, missing argument): exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Command { None, Info, Preprocess, Embed, Batch, Export, Forward, Predict, Explain };

// Everything the command line asked for, with the pipeline defaults shared with the GUI.
struct CommandLine {
  Command command = Command::None;
  bool help = false;
  bool version = false;
  std::vector<std::string> inputs;  // positional arguments after the subcommand
  std::string output;               // -o
  std::string tensorPath;           // embed --tensor
  int threads = 0;                  // 0: all cores
  bool recursive = false;           // batch -r
  std::string plot;                 // export --plot KIND
  std::vector<std::string> plots;   // every --plot given (batch takes several)
  std::string data;                 // export --data WHAT
  double figureWidth = 0;           // export --width, points; 0: the figure's own size
  double figureHeight = 0;          // export --height
  double figureScale = 0;           // export --scale (PNG pixels per point) or --dpi / 72; 0: 2
  std::string colormap;             // export --colormap NAME; empty: each figure's default
  bool attention = false;           // forward --attention: every block's softmax in the .npz
  bool qkv = false;                 // forward --qkv: q_L, k_L, v_L [H, T, dh] in the .npz
  std::string source;               // export --source tokens|queries|keys|values (token figures)
  int heads = 0;                    // --heads N: attention heads when the file cannot tell
  std::string layer;                // --layer L|final: forward's one array, export's tokens
  std::string query;                // export --query R,C|cls|dist|reg N: the attention query
  double foreground = -1;           // export --foreground T: pca's DINOv2 foreground threshold
  bool foregroundFlip = false;      // export --foreground-flip: the other end of PC1
  bool allowNonFinite = false;      // --allow-nonfinite: write NaN/Inf outputs with a warning
  std::string pool;                 // batch --pool cls|mean|none (with --layer)
  int shardIndex = 1;               // batch --shard K/N: part K (1..N) of the sorted list
  int shardCount = 1;
  bool resume = false;         // batch --resume: keep outputs that read back whole
  int top = 5;                 // predict --top K
  std::string labels;          // predict / explain --labels FILE: one class name a line
  int classIndex = -1;         // explain --class K; -1: the top prediction
  std::string target;          // explain --target similar:R,C | similar-to
  std::string similarTo;       // explain --target similar-to B: the second image (or .npy)
  std::string compare;         // export --compare B: a second image (issue 23)
  std::string compareWeights;  // export --compare-weights W2: a second model
  PipelineConfig config;
};

// Parses argv[1..]; throws UsageError with a one-line reason.
CommandLine parseCommandLine(const std::vector<std::string>& args);

// Help text: general (Command::None) or for one subcommand.
std::string helpText(Command command);

}  // namespace patchlens::cli
