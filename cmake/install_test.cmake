# CTest install_and_build_example: installs the build BUILD_DIR into a temporary prefix, configures
# SOURCE_DIR/examples against it as an outside project would (find_package(encore)), builds it with the
# same compiler, runs it, and checks that it printed its related items. The temporary directory is
# removed whatever happens.
# Usage: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DCXX=... [-DGENERATOR=Ninja] [-DLAUNCHER=ccache] -P install_test.cmake
foreach(var BUILD_DIR SOURCE_DIR CXX)
  if(NOT ${var})
    message(FATAL_ERROR "install_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GENERATOR)
  set(GENERATOR Ninja)
endif()

set(tmp ${BUILD_DIR}/install_test.tmp)
set(prefix ${tmp}/prefix)
set(example_build ${tmp}/example-build)
file(REMOVE_RECURSE ${tmp})
file(MAKE_DIRECTORY ${tmp})

set(failure "")
# Runs one step unless an earlier one failed; its output is kept in step_output for the checks.
macro(step name)
  if(NOT failure)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE step_output
                    ERROR_VARIABLE step_output WORKING_DIRECTORY ${tmp})
    if(NOT rc EQUAL 0)
      set(failure "${name} failed (${rc}):\n${step_output}")
    endif()
  endif()
endmacro()

step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
step("configure examples/" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${example_build} -G ${GENERATOR}
     -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(NOT failure)
  file(STRINGS ${example_build}/CMakeCache.txt found REGEX "^encore_DIR:")
  if(NOT found MATCHES "=${prefix}/")
    set(failure "examples/ found another encore (${found}), not the one in ${prefix}")
  endif()
endif()
step("build examples/" ${CMAKE_COMMAND} --build ${example_build})
step("run related_items" ${example_build}/related_items)
if(NOT failure)
  string(REGEX MATCHALL "\n +[0-9]+\\. [^\n]+ [0-9.-]+" rows "\n${step_output}")
  list(LENGTH rows n)
  if(NOT n EQUAL 10)
    set(failure "related_items printed ${n} related items, expected 10:\n${step_output}")
  endif()
endif()

file(REMOVE_RECURSE ${tmp})
if(failure)
  message(FATAL_ERROR "${failure}")
endif()
message(STATUS "installed, built and ran examples/related_items:\n${step_output}")
