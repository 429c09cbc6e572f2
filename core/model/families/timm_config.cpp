#include "core/model/families/timm_config.h"

#include <filesystem>
#include <fstream>

namespace patchlens {

nlohmann::json readTimmConfig(const std::string& weightsPath) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path file = fs::path(weightsPath).parent_path() / "config.json";
  if (!fs::is_regular_file(file, ec) || fs::file_size(file, ec) > (std::uintmax_t{4} << 20))
    return nlohmann::json::object();
  std::ifstream in(file);
  nlohmann::json root = nlohmann::json::parse(in, nullptr, false);
  return root.is_object() ? root : nlohmann::json::object();
}

}  // namespace patchlens
