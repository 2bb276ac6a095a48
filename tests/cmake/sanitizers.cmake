# ASan+UBSan suite. The sanitized binaries live in a second build tree, <build>-asan, built by
# scripts/build_sanitized.sh: `make test` builds it before ctest, and the asan_build fixture
# below brings it up to date when ctest runs alone. The tests run the whole unit-test binary
# and `accel verify` over the ONNX conformance tests and the exported and real models, through
# scripts/run_sanitized.sh, which makes any sanitizer report (memory error, leak, undefined
# behaviour) abort the process.
option(ACCEL_SANITIZER_TESTS "Register the ASan+UBSan tests (builds a second, sanitized tree)" ON)
set(ACCEL_SANITIZER_BUILD_DIR "${PROJECT_BINARY_DIR}-asan" CACHE PATH
    "Build tree of the ASan+UBSan tests")

if(ACCEL_SANITIZER_TESTS AND NOT ACCEL_SANITIZE)
  set(asan_dir ${ACCEL_SANITIZER_BUILD_DIR})
  set(run_sanitized bash ${PROJECT_SOURCE_DIR}/scripts/run_sanitized.sh)

  add_test(NAME asan_build
           COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/build_sanitized.sh ${asan_dir})
  # Serial: when the tree is out of date this is a parallel build of its own.
  set_tests_properties(asan_build PROPERTIES
    FIXTURES_SETUP asan_tree LABELS sanitizer TIMEOUT 3600 RUN_SERIAL TRUE)

  add_test(NAME asan_unit_tests COMMAND ${run_sanitized} ${asan_dir}/tests/accel_tests)
  set_tests_properties(asan_unit_tests PROPERTIES
    FIXTURES_REQUIRED asan_tree LABELS sanitizer TIMEOUT 1800)

  # accel verify under the sanitizers: the ONNX conformance folders (all four take under 5 s)
  # and, when tests/cmake/models.cmake registered them, the exported and real models (about
  # 15 s), whose directories its fixtures prepare.
  if(TARGET accel_cli)
    set(verify ${run_sanitized} ${asan_dir}/tools/accel verify)
    set(exclusions ${PROJECT_SOURCE_DIR}/tests/conformance_exclusions.txt)
    set(exclude_args)
    if(EXISTS ${exclusions})
      set(exclude_args --exclude-file ${exclusions})
    endif()
    foreach(folder node pytorch-converted pytorch-operator simple)
      set(data /usr/share/libonnx-testdata/data/${folder})
      if(IS_DIRECTORY ${data})
        add_test(NAME asan_conformance_${folder} COMMAND ${verify} ${exclude_args} ${data})
        set_tests_properties(asan_conformance_${folder} PROPERTIES
          FIXTURES_REQUIRED asan_tree LABELS sanitizer TIMEOUT 1800)
      endif()
    endforeach()
    if(TEST models/export_reference)
      add_test(NAME asan_models_exported COMMAND ${verify} ${PROJECT_BINARY_DIR}/test_models)
      set_tests_properties(asan_models_exported PROPERTIES
        FIXTURES_REQUIRED "asan_tree;exported_models" LABELS sanitizer TIMEOUT 1800)
    endif()
    if(TEST models/real_prepare)
      add_test(NAME asan_models_real COMMAND ${verify} ${PROJECT_BINARY_DIR}/real_models)
      set_tests_properties(asan_models_real PROPERTIES
        FIXTURES_REQUIRED "asan_tree;real_models" LABELS sanitizer TIMEOUT 1800)
    endif()
  endif()
endif()
