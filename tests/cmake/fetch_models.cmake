# The model fetcher's own tests (no network: see scripts/fetch_models_test.py).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME fetch_models
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/fetch_models_test.py)
  set_tests_properties(fetch_models PROPERTIES LABELS scripts)
endif()
