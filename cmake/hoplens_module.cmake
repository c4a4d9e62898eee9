# hoplens_module(NAME DEPS ...): the folder's *.cpp (but main.cpp) as one static library.
# Includes are spelled from the repository root: #include "certs/certs.hpp".
function(hoplens_module name)
    cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
    list(FILTER srcs EXCLUDE REGEX "/main\\.cpp$")
    add_library(${name} STATIC ${srcs})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE hoplens_warnings)
endfunction()

# hoplens_unit_tests(NAME DEPS ...): tests/<module>/*_test.cpp as one doctest binary,
# registered with ctest under NAME.
function(hoplens_unit_tests name)
    cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
    add_executable(${name} ${PROJECT_SOURCE_DIR}/tests/doctest_main.cpp ${srcs})
    target_link_libraries(${name} PRIVATE ${ARG_DEPS} doctest::doctest hoplens_warnings)
    target_compile_definitions(${name} PRIVATE
        HOPLENS_TEST_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data")
    add_test(NAME ${name} COMMAND ${name})
endfunction()
