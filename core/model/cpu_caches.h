#pragma once

#include <cstddef>
#include <string>

namespace patchlens {

// The data cache sizes of the CPU the program runs on, per core (L3 for the whole package),
// from which the GEMM chooses its blocking. Zero means "not known".
struct CpuCaches {
  std::size_t l1d = 0;
  std::size_t l2 = 0;
  std::size_t l3 = 0;

  // This machine's caches, detected once: sysfs (cpu0), else cpuid leaf 4 (Intel) or
  // 0x8000001D (AMD), else typical sizes (32 kB, 1 MB, 8 MB). Every level is filled.
  static const CpuCaches& host();
  // The sizes a Linux sysfs cache directory lists (.../cpu0/cache with index*/level, type,
  // size); levels it does not list stay 0.
  static CpuCaches fromSysfs(const std::string& cacheDir);
  // The sizes cpuid's deterministic cache leaves report; all 0 where unsupported.
  static CpuCaches fromCpuid();
  // Missing levels set to typical sizes.
  CpuCaches withDefaults() const;

  std::string describe() const;  // "L1d 48 kB, L2 2048 kB, L3 266240 kB"
};

}  // namespace patchlens
