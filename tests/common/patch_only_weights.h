#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

// A timm-named safetensors file that holds only a patch embedding (D = 8, P = 16, no blocks),
// written at test time: the "patch-only checkpoint" the transformer views must refuse.
namespace patchlens::test {

inline void writePatchOnlyWeights(const std::string& path) {
  const int d = 8, c = 3, p = 16;
  std::vector<float> weight(static_cast<std::size_t>(d * c * p * p));
  for (std::size_t i = 0; i < weight.size(); ++i)
    weight[i] = static_cast<float>((i * 37 % 101) - 50) / 500.0f;
  std::vector<float> bias(static_cast<std::size_t>(d), 0.01f);
  const std::size_t wBytes = weight.size() * 4, bBytes = bias.size() * 4;
  std::string header =
      "{\"patch_embed.proj.weight\":{\"dtype\":\"F32\",\"shape\":[8,3,16,16],"
      "\"data_offsets\":[0," +
      std::to_string(wBytes) +
      "]},\"patch_embed.proj.bias\":{\"dtype\":\"F32\",\"shape\":[8],"
      "\"data_offsets\":[" +
      std::to_string(wBytes) + "," + std::to_string(wBytes + bBytes) + "]}}";
  while (header.size() % 8 != 0) header += ' ';
  std::ofstream out(path, std::ios::binary);
  const std::uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(weight.data()), static_cast<std::streamsize>(wBytes));
  out.write(reinterpret_cast<const char*>(bias.data()), static_cast<std::streamsize>(bBytes));
}

}  // namespace patchlens::test
