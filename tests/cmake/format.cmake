# Fails when a tracked C++ file is not clang-formatted (`make format` fixes them).
find_program(ACCEL_CLANG_FORMAT clang-format)
if(ACCEL_CLANG_FORMAT)
  add_test(NAME clang_format
           COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/check_format.sh)
  set_tests_properties(clang_format PROPERTIES
    LABELS lint ENVIRONMENT "CLANG_FORMAT=${ACCEL_CLANG_FORMAT}")
else()
  message(WARNING "clang-format not found: the format check is not registered")
endif()
