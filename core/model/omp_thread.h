#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

namespace patchlens {

// The calling thread's number inside an OpenMP parallel region (0 outside one, and in a
// build without OpenMP): the index of its per-thread scratch.
inline int ompThreadIndex() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

}  // namespace patchlens
