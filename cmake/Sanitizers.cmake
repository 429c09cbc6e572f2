# Sanitizers as an option (PATCHLENS_SANITIZERS="address;undefined" or "thread").
add_library(patchlens_sanitizers INTERFACE)
if(PATCHLENS_SANITIZERS)
  list(JOIN PATCHLENS_SANITIZERS "," _patchlens_sanitizer_list)
  target_compile_options(patchlens_sanitizers INTERFACE
    -fsanitize=${_patchlens_sanitizer_list} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(patchlens_sanitizers INTERFACE -fsanitize=${_patchlens_sanitizer_list})
endif()
