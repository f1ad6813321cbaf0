# Warnings are errors for Cleave's own code. Generated protobuf code and
# third-party headers are compiled without them (see cleave_proto_library).
set(CLEAVE_WARNINGS -Wall -Wextra -Werror -Wpedantic -Wno-unused-parameter -Wnon-virtual-dtor
    -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND CLEAVE_WARNINGS -Wthread-safety)
endif()

function(cleave_warnings target)
  target_compile_options(${target} PRIVATE ${CLEAVE_WARNINGS})
endfunction()
