#include "core/io/error.h"

#include <utility>

namespace patchlens {

Error::Error(std::string file, std::string reason)
    : std::runtime_error(file.empty() ? reason : file + ": " + reason),
      m_file(std::move(file)),
      m_reason(std::move(reason)) {}

}  // namespace patchlens
