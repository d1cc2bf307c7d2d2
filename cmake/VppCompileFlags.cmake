# Warnings and sanitizers for the project's own code live on one INTERFACE target that every
# vpp target links PRIVATE. Third-party and generated code does not get -Werror.
add_library(vpp_compile_flags INTERFACE)
target_compile_options(vpp_compile_flags INTERFACE -Wall -Wextra -Werror -Wno-missing-field-initializers)
# GCC 12 reports -Wrestrict inside libstdc++ for ordinary std::string concatenation at -O2 and
# above (GCC bug 105329, fixed in GCC 13): off, so the warning cannot fail correct code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(vpp_compile_flags INTERFACE -Wno-restrict)
endif()

if(VPP_SANITIZE)
  string(REPLACE "," ";" _vpp_sanitizers "${VPP_SANITIZE}")
  foreach(_s IN LISTS _vpp_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "VPP_SANITIZE: unknown sanitizer '${_s}' (use address, undefined, thread, leak)")
    endif()
  endforeach()
  # Sanitizers must cover every object of a binary (shared state across TUs), so they are global.
  add_compile_options(-fsanitize=${VPP_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${VPP_SANITIZE})
  # GCC 12's flow-sensitive warnings misfire on instrumented code inside libstdc++ (e.g. GCC bug
  # 105329, -Wrestrict on std::string appends). The Release build keeps them as errors.
  target_compile_options(vpp_compile_flags INTERFACE
    -Wno-error=maybe-uninitialized -Wno-error=stringop-overflow -Wno-error=array-bounds)
endif()

# Project-wide helper: a static library for one component folder with the vpp:: alias.
function(vpp_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(vpp_${name} STATIC ${ARG_SOURCES})
  add_library(vpp::${name} ALIAS vpp_${name})
  target_include_directories(vpp_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(vpp_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE vpp_compile_flags ${ARG_PRIVATE_DEPS})
endfunction()
