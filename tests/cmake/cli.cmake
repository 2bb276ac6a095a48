# Tests of the `accel` command-line tool (tools/accel). Included from tests/CMakeLists.txt.
if(NOT TARGET accel_cli)
  return()
endif()

# The .npy reader/writer is part of the tool, not the library: compile it into the unit tests.
if(TARGET accel_tests)
  target_sources(accel_tests PRIVATE ${PROJECT_SOURCE_DIR}/tools/accel/npy_io.cc)
  target_include_directories(accel_tests PRIVATE ${PROJECT_SOURCE_DIR}/tools/accel)
endif()

set(ACCEL_CLI $<TARGET_FILE:accel_cli>)
set(ACCEL_CLI_WORK ${CMAKE_CURRENT_BINARY_DIR}/cli_work)
file(MAKE_DIRECTORY ${ACCEL_CLI_WORK})

add_test(NAME cli_help COMMAND ${ACCEL_CLI} --help)
add_test(NAME cli_verify_missing_dir_fails COMMAND ${ACCEL_CLI} verify ${ACCEL_CLI_WORK}/no_such_test)
set_tests_properties(cli_verify_missing_dir_fails PROPERTIES WILL_FAIL TRUE)

# The checks below need Python; the ones that build or edit ONNX files also need the onnx
# package (the project's venv has it).
find_program(ACCEL_CLI_PYTHON NAMES python3 python
             HINTS ${PROJECT_SOURCE_DIR}/.venv/bin NO_CACHE)
if(NOT ACCEL_CLI_PYTHON)
  message(STATUS "cli tests: no python found; skipping the scripted CLI tests")
  return()
endif()
execute_process(COMMAND ${ACCEL_CLI_PYTHON} -c "import onnx, numpy"
                RESULT_VARIABLE ACCEL_CLI_NO_ONNX OUTPUT_QUIET ERROR_QUIET)
set(ACCEL_CLI_HELPER ${ACCEL_CLI_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/cli_helpers.py)

add_test(NAME cli_ops_doc_up_to_date
         COMMAND ${ACCEL_CLI_HELPER} ops-doc ${ACCEL_CLI} ${PROJECT_SOURCE_DIR}/docs/ops.md)
add_test(NAME cli_unknown_flag_exit_2
         COMMAND ${ACCEL_CLI_HELPER} exit-code ${ACCEL_CLI} 2 bench model.onnx --frobnicate)
add_test(NAME cli_bad_value_exit_2
         COMMAND ${ACCEL_CLI_HELPER} exit-code ${ACCEL_CLI} 2 verify . --rtol nope)
add_test(NAME cli_unknown_command_exit_2
         COMMAND ${ACCEL_CLI_HELPER} exit-code ${ACCEL_CLI} 2 frobnicate)

# ONNX backend node tests whose ops the CPU backend implements: they must all PASS (a SKIP,
# e.g. after an op was removed, fails the test too).
set(ACCEL_NODE_TESTS /usr/share/libonnx-testdata/data/node)
if(EXISTS ${ACCEL_NODE_TESTS})
  set(ACCEL_CLI_PASSING_NODE_TESTS
      test_relu test_add test_conv_with_strides_padding test_transpose_default
      test_concat_1d_axis_0 test_reshape_reordered_all_dims)
  list(TRANSFORM ACCEL_CLI_PASSING_NODE_TESTS PREPEND ${ACCEL_NODE_TESTS}/)
  list(LENGTH ACCEL_CLI_PASSING_NODE_TESTS ACCEL_CLI_NUM_PASSING)
  add_test(NAME cli_verify_node_tests_pass COMMAND ${ACCEL_CLI} verify ${ACCEL_CLI_PASSING_NODE_TESTS})
  set_tests_properties(cli_verify_node_tests_pass PROPERTIES
      PASS_REGULAR_EXPRESSION "\n${ACCEL_CLI_NUM_PASSING} passed, 0 failed, 0 skipped\n")
  # `accel profile` on a small model: the per-op table lists the Conv and the time outside nodes.
  set(ACCEL_CLI_PROFILE_MODEL ${ACCEL_NODE_TESTS}/test_conv_with_strides_padding/model.onnx)
  add_test(NAME cli_profile_op_table
           COMMAND ${ACCEL_CLI} profile ${ACCEL_CLI_PROFILE_MODEL} --threads 1 --iters 3)
  set_tests_properties(cli_profile_op_table PROPERTIES PASS_REGULAR_EXPRESSION
      "per op type [^\n]*\nop type +count +ms +%\nConv +1 +[0-9.]+ +[0-9.]+\n\\(outside nodes\\) ")
  add_test(NAME cli_profile_json
           COMMAND ${ACCEL_CLI_HELPER} profile-json ${ACCEL_CLI} ${ACCEL_CLI_PROFILE_MODEL})
  # --precision: a bad value is a usage error, and bf16 where oneDNN may not use bf16
  # instructions (capped here with ONEDNN_MAX_CPU_ISA) is refused at load, never run as float32.
  add_test(NAME cli_precision_bad_value_exit_2
           COMMAND ${ACCEL_CLI_HELPER} exit-code ${ACCEL_CLI} 2 run ${ACCEL_CLI_PROFILE_MODEL}
                   --precision fp16)
  add_test(NAME cli_precision_bf16_refused_without_avx512_bf16
           COMMAND ${ACCEL_CLI} run ${ACCEL_CLI_PROFILE_MODEL} --precision bf16)
  set_tests_properties(cli_precision_bf16_refused_without_avx512_bf16 PROPERTIES
      ENVIRONMENT "ONEDNN_MAX_CPU_ISA=AVX512_CORE"
      PASS_REGULAR_EXPRESSION "Unsupported: .*precision bf16 needs a CPU with AVX512_BF16")
  if(ACCEL_CLI_NO_ONNX EQUAL 0)
    add_test(NAME cli_verify_detects_corrupted_output
             COMMAND ${ACCEL_CLI_HELPER} verify-fails ${ACCEL_CLI}
                     ${ACCEL_NODE_TESTS}/test_transpose_default ${ACCEL_CLI_WORK})
    add_test(NAME cli_verify_tolerances
             COMMAND ${ACCEL_CLI_HELPER} verify-tolerance ${ACCEL_CLI}
                     ${ACCEL_NODE_TESTS}/test_transpose_default ${ACCEL_CLI_WORK})
  endif()
endif()

if(ACCEL_CLI_NO_ONNX EQUAL 0)
  add_test(NAME cli_inspect_lists_all_unsupported_ops
           COMMAND ${ACCEL_CLI_HELPER} inspect-lists ${ACCEL_CLI} ${ACCEL_CLI_WORK})
endif()

# Real-model checks: only when the model directory is known at configure time.
if(DEFINED ENV{ACCEL_MODEL_DIR} AND EXISTS $ENV{ACCEL_MODEL_DIR}/mnist_cntk/mnist.onnx)
  set(ACCEL_CLI_MNIST $ENV{ACCEL_MODEL_DIR}/mnist_cntk/mnist.onnx)
  add_test(NAME cli_run_mnist
           COMMAND ${ACCEL_CLI} run ${ACCEL_CLI_MNIST} --seed 1 --output-dir ${ACCEL_CLI_WORK}/mnist_out)
  set_tests_properties(cli_run_mnist PROPERTIES
      PASS_REGULAR_EXPRESSION "Plus214_Output_0: float32\\[1,10\\]")
  add_test(NAME cli_bench_json_mnist COMMAND ${ACCEL_CLI_HELPER} bench-json ${ACCEL_CLI} ${ACCEL_CLI_MNIST})
else()
  message(STATUS "cli tests: ACCEL_MODEL_DIR not set; skipping the mnist run/bench tests")
endif()
