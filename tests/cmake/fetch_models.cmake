# The model fetcher's own tests (no network: see scripts/fetch_models_test.py). With
# ACCEL_MODEL_DIR set at configure time, they also check the manifest against that directory.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME fetch_models
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/fetch_models_test.py)
  set_tests_properties(fetch_models PROPERTIES LABELS scripts)
  if(DEFINED ENV{ACCEL_MODEL_DIR} AND NOT "$ENV{ACCEL_MODEL_DIR}" STREQUAL "")
    set_tests_properties(fetch_models PROPERTIES
      ENVIRONMENT "ACCEL_MODEL_DIR=$ENV{ACCEL_MODEL_DIR}")
  endif()
endif()
