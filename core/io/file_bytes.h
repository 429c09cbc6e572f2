#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace patchlens {

// Reads a whole regular file. Throws Error(path, reason) for a missing file, a directory,
// no permission, or a file larger than maxBytes, with the reason in plain words.
std::vector<std::uint8_t> readFileBytes(const std::string& path, std::uint64_t maxBytes);

// Checks that path names a readable regular file (following symlinks) and returns its size.
std::uint64_t checkedRegularFileSize(const std::string& path);

}  // namespace patchlens
