# An INTERFACE target that carries the project's warning flags; every target links it.
add_library(patchlens_warnings INTERFACE)
target_compile_options(patchlens_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wconversion -Wformat=2 -Wimplicit-fallthrough)
if(NOT PATCHLENS_OPENMP)
  # The OpenMP pragmas stay in the code; without -fopenmp they are meant to be ignored.
  target_compile_options(patchlens_warnings INTERFACE -Wno-unknown-pragmas)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 flags Eigen's AVX-512 transposes (avx512fintrin.h) as maybe-uninitialized once
  # inlined at -O2/-O3: a known false positive inside a system header.
  target_compile_options(patchlens_warnings INTERFACE -Wno-maybe-uninitialized)
endif()
if(PATCHLENS_WARNINGS_AS_ERRORS)
  target_compile_options(patchlens_warnings INTERFACE -Werror)
endif()
