# Precompiled headers (issue 25: `tools/run` on a fresh 2-core machine in <= 7 min). The
# system, Eigen, OpenCV and Qt headers that most files of a target include are parsed once
# per target instead of once per file. PATCHLENS_PCH=OFF builds without them.
#
# patchlens_pch(TARGET [REUSE_FROM other] HEADERS <h>...): one of the two.
function(patchlens_pch target)
  cmake_parse_arguments(ARG "" "REUSE_FROM" "HEADERS" ${ARGN})
  if(NOT PATCHLENS_PCH)
    return()
  endif()
  if(ARG_REUSE_FROM)
    target_precompile_headers(${target} REUSE_FROM ${ARG_REUSE_FROM})
  else()
    target_precompile_headers(${target} PRIVATE ${ARG_HEADERS})
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # ccache hashes the header's .gch instead of preprocessing through it.
    target_compile_options(${target} PRIVATE -fpch-preprocess)
  endif()
endfunction()
