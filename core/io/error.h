#pragma once

#include <stdexcept>
#include <string>

namespace patchlens {

// A refusal of bad input or a failed operation; what() reads "<file>: <reason>".
class Error : public std::runtime_error {
 public:
  Error(std::string file, std::string reason);

  const std::string& file() const { return m_file; }
  const std::string& reason() const { return m_reason; }

 private:
  std::string m_file;
  std::string m_reason;
};

}  // namespace patchlens
