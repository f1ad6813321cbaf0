# Every dependency comes from Debian 12's packages (scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS system)
find_package(OpenSSL REQUIRED)
find_package(Protobuf REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(RocksDB CONFIG REQUIRED)
find_package(pugixml REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)

# spdlog from Debian is built against the system fmt.
add_compile_definitions(SPDLOG_FMT_EXTERNAL BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)

# cleave_proto_library(NAME PROTOS a.proto b.proto)
# Generates C++ from .proto files into the build tree; the generated code is
# included as "<module>/<file>.pb.h" with the build tree's src as include root.
function(cleave_proto_library name)
  cmake_parse_arguments(P "" "" "PROTOS" ${ARGN})
  set(srcs)
  set(hdrs)
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/src ${CMAKE_CURRENT_SOURCE_DIR})
  set(out_dir ${PROJECT_BINARY_DIR}/gen/${rel})
  file(MAKE_DIRECTORY ${out_dir})
  foreach(proto ${P_PROTOS})
    get_filename_component(base ${proto} NAME_WE)
    set(src ${out_dir}/${base}.pb.cc)
    set(hdr ${out_dir}/${base}.pb.h)
    add_custom_command(
      OUTPUT ${src} ${hdr}
      COMMAND protobuf::protoc --cpp_out=${PROJECT_BINARY_DIR}/gen -I ${PROJECT_SOURCE_DIR}/src
              ${CMAKE_CURRENT_SOURCE_DIR}/${proto}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${proto} protobuf::protoc
      COMMENT "protoc ${rel}/${proto}")
    list(APPEND srcs ${src})
    list(APPEND hdrs ${hdr})
  endforeach()
  add_library(${name} STATIC ${srcs} ${hdrs})
  target_include_directories(${name} SYSTEM PUBLIC ${PROJECT_BINARY_DIR}/gen)
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf)
endfunction()
