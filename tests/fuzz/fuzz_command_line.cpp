// libFuzzer target: patchlens-cli's argument parser. The input is split at NUL bytes
// into argv words; any word list must end in a CommandLine or a UsageError.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "app/cli/command_line.h"
#include "core/io/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args(1);
  for (std::size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.emplace_back();
    } else {
      args.back().push_back(static_cast<char>(data[i]));
    }
  }
  try {
    (void)patchlens::cli::parseCommandLine(args);
  } catch (const patchlens::cli::UsageError&) {
  }
  return 0;
}
