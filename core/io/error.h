#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace patchlens {

// A refusal of bad input or a failed operation; what() reads "<file>: <reason>", one line:
// control characters from file names or file contents are escaped there (see printable()).
class Error : public std::runtime_error {
 public:
  Error(std::string file, std::string reason);

  // Unescaped, as given: callers that rethrow with another file pass these on.
  const std::string& file() const { return m_file; }
  const std::string& reason() const { return m_reason; }

 private:
  std::string m_file;
  std::string m_reason;
};

// The text with every control character (C0, DEL, C1 as UTF-8, NUL) written as an escape
// (\n, \t, \r, \e is \x1b, \xNN, \u0085): a file name or a string read from a file can then
// neither break a one-line message nor drive the terminal. Printable UTF-8 is kept.
std::string printable(std::string_view text);

}  // namespace patchlens
