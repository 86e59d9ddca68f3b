# Helpers shared by every directory's CMakeLists.txt.

# rangedb_library(NAME SOURCES... DEPS...)
# A static library rooted at the repository top, so includes read "storage/engine.h".
function(rangedb_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE rangedb_warnings)
endfunction()

# rangedb_cli_group(NAME SOURCES... DEPS...)
# A group of `rangedb` subcommands, which registers itself (client/cli/command.h). An
# object library, not a static one: a program that links it gets every object file,
# where from an archive the linker would drop the group's file, registration and all,
# because nothing calls into it.
function(rangedb_cli_group name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} OBJECT ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC rangedb_cli ${ARG_DEPS} PRIVATE rangedb_warnings)
endfunction()

# rangedb_test(NAME SOURCES... DEPS... LABELS... [TIMEOUT seconds])
# A GoogleTest binary registered with ctest under the given labels
# (unit | integration | slow).
function(rangedb_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main
                        rangedb_warnings)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # ThreadSanitizer runs every process several times slower (kSanitizerSlowdown in
  # tests/kv_chaos_fixture.h scales the tests' own waits the same way).
  if(RANGEDB_SANITIZE STREQUAL "thread")
    math(EXPR ARG_TIMEOUT "${ARG_TIMEOUT} * 4")
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# rangedb_proto_library(NAME PROTOS...)
# Generates C++ and gRPC code from the given .proto files (paths in the current source
# directory) into the build tree, so code includes "<dir>/<name>.pb.h" and
# "<dir>/<name>.grpc.pb.h", and builds them into a static library NAME.
function(rangedb_proto_library name)
  set(sources)
  file(RELATIVE_PATH dir ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/${dir})
  foreach(proto ${ARGN})
    get_filename_component(stem ${proto} NAME_WE)
    set(out ${PROJECT_BINARY_DIR}/${dir}/${stem})
    add_custom_command(
      OUTPUT ${out}.pb.cc ${out}.pb.h ${out}.grpc.pb.cc ${out}.grpc.pb.h
      COMMAND protobuf::protoc
        --proto_path=${PROJECT_SOURCE_DIR}
        --cpp_out=${PROJECT_BINARY_DIR}
        --grpc_out=${PROJECT_BINARY_DIR}
        --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
        ${proto}
      DEPENDS ${proto} protobuf::protoc gRPC::grpc_cpp_plugin
      COMMENT "protoc ${dir}/${stem}.proto"
      VERBATIM)
    list(APPEND sources ${out}.pb.cc ${out}.grpc.pb.cc)
  endforeach()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf gRPC::grpc++)
endfunction()
