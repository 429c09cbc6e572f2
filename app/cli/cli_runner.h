#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace patchlens::cli {

// Runs patchlens-cli with argv[1..]; returns the exit status (0 ok, 1 failed, 2 usage).
int runCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Prints each warning as one escaped line "patchlens-cli: warning: <file>: <reason>" to err.
void printWarnings(std::ostream& err, const std::string& file,
                   const std::vector<std::string>& warnings);

}  // namespace patchlens::cli
