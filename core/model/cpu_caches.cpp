#include "core/model/cpu_caches.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace patchlens {
namespace {

constexpr std::size_t kDefaultL1d = 32 * 1024;
constexpr std::size_t kDefaultL2 = 1024 * 1024;
constexpr std::size_t kDefaultL3 = 8 * 1024 * 1024;

std::string readLine(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// "48K", "2048K", "32M", "1024" -> bytes; 0 when unreadable.
std::size_t parseSize(const std::string& text) {
  std::size_t i = 0;
  std::size_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    value = value * 10 + static_cast<std::size_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return 0;
  switch (i < text.size() ? std::toupper(static_cast<unsigned char>(text[i])) : 0) {
    case 'K':
      return value * 1024;
    case 'M':
      return value * 1024 * 1024;
    case 'G':
      return value * 1024 * 1024 * 1024;
    default:
      return value;
  }
}

void record(CpuCaches& caches, int level, bool data, std::size_t size) {
  if (!data || size == 0) return;
  if (level == 1) caches.l1d = size;
  if (level == 2) caches.l2 = size;
  if (level == 3) caches.l3 = size;
}

}  // namespace

CpuCaches CpuCaches::fromSysfs(const std::string& cacheDir) {
  CpuCaches caches;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(cacheDir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("index", 0) != 0) continue;
    const std::string type = readLine(it->path() / "type");
    const std::string level = readLine(it->path() / "level");
    if (level.empty()) continue;
    record(caches, std::atoi(level.c_str()), type == "Data" || type == "Unified",
           parseSize(readLine(it->path() / "size")));
  }
  return caches;
}

CpuCaches CpuCaches::fromCpuid() {
  CpuCaches caches;
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return caches;
  const bool amd = ebx == 0x68747541;  // "Auth" of AuthenticAMD
  unsigned leaf = 4;
  if (amd) {
    // AMD reports the same layout in 0x8000001D when it has topology extensions.
    if (!__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 22))) return caches;
    leaf = 0x8000001D;
  } else if (eax < 4) {
    return caches;
  }
  for (unsigned index = 0; index < 16; ++index) {
    __cpuid_count(leaf, index, eax, ebx, ecx, edx);
    const unsigned type = eax & 0x1F;  // 0 none, 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    const int level = static_cast<int>((eax >> 5) & 0x7);
    const std::size_t ways = ((ebx >> 22) & 0x3FF) + 1;
    const std::size_t partitions = ((ebx >> 12) & 0x3FF) + 1;
    const std::size_t line = (ebx & 0xFFF) + 1;
    const std::size_t sets = static_cast<std::size_t>(ecx) + 1;
    record(caches, level, type == 1 || type == 3, ways * partitions * line * sets);
  }
#endif
  return caches;
}

CpuCaches CpuCaches::withDefaults() const {
  CpuCaches c = *this;
  if (c.l1d == 0) c.l1d = kDefaultL1d;
  if (c.l2 == 0) c.l2 = kDefaultL2;
  if (c.l3 == 0) c.l3 = kDefaultL3;
  return c;
}

const CpuCaches& CpuCaches::host() {
  static const CpuCaches caches = [] {
    CpuCaches c = fromSysfs("/sys/devices/system/cpu/cpu0/cache");
    const CpuCaches id = fromCpuid();
    if (c.l1d == 0) c.l1d = id.l1d;
    if (c.l2 == 0) c.l2 = id.l2;
    if (c.l3 == 0) c.l3 = id.l3;
    return c.withDefaults();
  }();
  return caches;
}

std::string CpuCaches::describe() const {
  std::ostringstream out;
  out << "L1d " << l1d / 1024 << " kB, L2 " << l2 / 1024 << " kB, L3 " << l3 / 1024 << " kB";
  return out.str();
}

}  // namespace patchlens
