# ONNX backend conformance: one CTest test per test directory of the ONNX test data
# (Debian package libonnx-testdata), each running `accel verify` on that directory.
# Tests whose ops libaccel does not support report SKIP and pass; the exclusion file lists the
# remaining deliberate gaps with a reason each. docs/conformance.md has the counts.
set(ACCEL_ONNX_TESTDATA_DIR /usr/share/libonnx-testdata/data CACHE PATH
    "ONNX backend test data (folders node, pytorch-converted, pytorch-operator, simple)")

if(NOT TARGET accel_cli)
  message(STATUS "libaccel: conformance tests not registered (no accel_cli target)")
elseif(NOT IS_DIRECTORY ${ACCEL_ONNX_TESTDATA_DIR})
  message(STATUS "libaccel: conformance tests not registered: ${ACCEL_ONNX_TESTDATA_DIR} "
                 "does not exist (apt-get install libonnx-testdata)")
else()
  set(conformance_count 0)
  foreach(folder node pytorch-converted pytorch-operator simple)
    file(GLOB test_dirs LIST_DIRECTORIES true ${ACCEL_ONNX_TESTDATA_DIR}/${folder}/*)
    foreach(dir ${test_dirs})
      if(NOT IS_DIRECTORY ${dir})
        continue()
      endif()
      get_filename_component(test_name ${dir} NAME)
      add_test(NAME conformance/${folder}/${test_name}
               COMMAND accel_cli verify
                       --exclude-file ${PROJECT_SOURCE_DIR}/tests/conformance_exclusions.txt
                       ${dir})
      # A test libaccel reports as unsupported (or excluded) shows as skipped in CTest.
      set_tests_properties(conformance/${folder}/${test_name} PROPERTIES
        LABELS "conformance;conformance-${folder}" TIMEOUT 300
        SKIP_REGULAR_EXPRESSION "0 passed, 0 failed, 1 skipped")
      math(EXPR conformance_count "${conformance_count} + 1")
    endforeach()
  endforeach()
  message(STATUS "libaccel: ${conformance_count} ONNX conformance tests from "
                 "${ACCEL_ONNX_TESTDATA_DIR}")
endif()
