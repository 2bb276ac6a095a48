# The weight cache file across processes (src/memory/weight_cache.h): concurrent first use by
# several `accel run --weight-cache` processes, a warm run, damaged files. Needs the CLI and
# Python with onnx and numpy (the project's venv has them).
if(NOT TARGET accel_cli)
  return()
endif()
find_program(ACCEL_WCACHE_PYTHON NAMES python3 python HINTS ${PROJECT_SOURCE_DIR}/.venv/bin
             NO_CACHE)
if(NOT ACCEL_WCACHE_PYTHON)
  return()
endif()
execute_process(COMMAND ${ACCEL_WCACHE_PYTHON} -c "import onnx, numpy"
                RESULT_VARIABLE ACCEL_WCACHE_NO_ONNX OUTPUT_QUIET ERROR_QUIET)
if(NOT ACCEL_WCACHE_NO_ONNX EQUAL 0)
  return()
endif()
add_test(NAME weight_cache_processes
         COMMAND ${ACCEL_WCACHE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/weight_cache_processes.py
                 $<TARGET_FILE:accel_cli> ${CMAKE_CURRENT_BINARY_DIR}/weight_cache_work)
