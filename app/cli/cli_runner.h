#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace patchlens::cli {

// Runs patchlens-cli with argv[1..]; returns the exit status (0 ok, 1 failed, 2 usage).
int runCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace patchlens::cli
