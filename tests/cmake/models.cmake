# Model-level correctness suites, all run through `accel verify` (or the CLI / detect example):
#  1. exported models: torchvision CNNs and a transformer encoder with random weights, exported by
#     tests/models/export_torch.py, checked against ONNX Runtime (tests/models/make_reference.py);
#  2. real models from ACCEL_MODEL_DIR checked against the stored ONNX Runtime outputs, plus
#     their decoded results (mnist digit, detections).
if(NOT TARGET accel_cli)
  message(STATUS "libaccel: model tests not registered (no accel_cli target)")
  return()
endif()

set(models_scripts ${PROJECT_SOURCE_DIR}/tests/models)
set(ACCEL_TORCH_PYTHON /usr/bin/python3 CACHE FILEPATH
    "Python with torch + torchvision, used to export the test models")
set(ACCEL_REFERENCE_PYTHON ${PROJECT_SOURCE_DIR}/.venv/bin/python CACHE FILEPATH
    "Python with onnx + onnxruntime + numpy, used for reference outputs and result checks")

# True when `python` can import every module in the list (checked without importing them).
function(accel_python_has out python)
  set(${out} FALSE PARENT_SCOPE)
  if(NOT EXISTS ${python})
    return()
  endif()
  string(CONCAT check "import importlib.util as u, sys\n"
                      "sys.exit(any(not u.find_spec(m) for m in sys.argv[1:]))")
  execute_process(COMMAND ${python} -c ${check} ${ARGN}
                  RESULT_VARIABLE missing OUTPUT_QUIET ERROR_QUIET)
  if(missing EQUAL 0)
    set(${out} TRUE PARENT_SCOPE)
  endif()
endfunction()

accel_python_has(have_reference_python ${ACCEL_REFERENCE_PYTHON} onnx onnxruntime numpy)
accel_python_has(have_torch_python ${ACCEL_TORCH_PYTHON} torch torchvision)

# --- 1. Exported models vs. ONNX Runtime ----------------------------------------------------
# The names export_torch.py produces (its CNNS and TRANSFORMERS tables).
set(exported_models
    resnet18 resnet50 mobilenet_v2 mobilenet_v3_small squeezenet1_1 shufflenet_v2_x1_0
    efficientnet_b0 transformer_encoder_op13 transformer_encoder_op17)
set(exported_dir ${PROJECT_BINARY_DIR}/test_models)

if(NOT have_reference_python)
  message(STATUS "libaccel: exported-model tests not registered: ${ACCEL_REFERENCE_PYTHON} "
                 "lacks onnx/onnxruntime/numpy (set ACCEL_REFERENCE_PYTHON)")
elseif(NOT have_torch_python)
  message(STATUS "libaccel: exported-model tests not registered: ${ACCEL_TORCH_PYTHON} "
                 "lacks torch/torchvision (set ACCEL_TORCH_PYTHON)")
else()
  # Exports and computes the references once; cached by a stamp (scripts + torch version).
  add_test(NAME models/export_reference
           COMMAND ${ACCEL_REFERENCE_PYTHON} ${models_scripts}/make_reference.py
                   --out-dir ${exported_dir} --torch-python ${ACCEL_TORCH_PYTHON})
  set_tests_properties(models/export_reference PROPERTIES
    FIXTURES_SETUP exported_models LABELS "models;exported" TIMEOUT 1800 RUN_SERIAL TRUE)
  foreach(model ${exported_models})
    add_test(NAME models/exported/${model}
             COMMAND accel_cli verify ${exported_dir}/${model})
    # Every exported model runs today: an unsupported op would be a regression, so it fails.
    set_tests_properties(models/exported/${model} PROPERTIES
      FIXTURES_REQUIRED exported_models LABELS "models;exported" TIMEOUT 600
      PASS_REGULAR_EXPRESSION "1 passed, 0 failed, 0 skipped")
  endforeach()
endif()

# --- 2. Real models from ACCEL_MODEL_DIR --------------------------------------------------
set(real_models yolox_nano ultraface_rfb320 fastestdet mnist_cntk)
set(real_dir ${PROJECT_BINARY_DIR}/real_models)
set(model_dir "$ENV{ACCEL_MODEL_DIR}")

if(model_dir STREQUAL "")
  message(STATUS "libaccel: real-model tests not registered: set ACCEL_MODEL_DIR at configure "
                 "time (e.g. ACCEL_MODEL_DIR=../shared/models cmake ...)")
elseif(NOT have_reference_python)
  message(STATUS "libaccel: real-model tests not registered: ${ACCEL_REFERENCE_PYTHON} lacks "
                 "onnx/numpy")
else()
  # Test dirs in the build tree: links to the model and its data plus an accel_tolerance.json
  # with atol = 1e-4 * (largest |value| of the stored outputs).
  add_test(NAME models/real_prepare
           COMMAND ${ACCEL_REFERENCE_PYTHON} ${models_scripts}/prepare_real_models.py
                   --model-dir ${model_dir} --out-dir ${real_dir} ${real_models})
  set_tests_properties(models/real_prepare PROPERTIES
    FIXTURES_SETUP real_models LABELS "models;real" TIMEOUT 120)
  foreach(model ${real_models})
    add_test(NAME models/real/${model} COMMAND accel_cli verify ${real_dir}/${model})
    # These models must run: an unsupported op is a failure here, not a skip.
    set_tests_properties(models/real/${model} PROPERTIES
      FIXTURES_REQUIRED real_models LABELS "models;real" TIMEOUT 600
      PASS_REGULAR_EXPRESSION "1 passed, 0 failed, 0 skipped")
  endforeach()

  add_test(NAME models/decoded/mnist_cntk
           COMMAND ${ACCEL_REFERENCE_PYTHON} ${models_scripts}/check_mnist.py
                   --accel $<TARGET_FILE:accel_cli> --model-dir ${model_dir}/mnist_cntk
                   --work-dir ${PROJECT_BINARY_DIR}/real_model_runs/mnist_cntk)
  set_tests_properties(models/decoded/mnist_cntk PROPERTIES
    FIXTURES_REQUIRED real_models LABELS "models;real" TIMEOUT 120)

  if(TARGET detect)
    foreach(model yolox_nano fastestdet ultraface_rfb320)
      add_test(NAME models/decoded/${model}
               COMMAND ${ACCEL_REFERENCE_PYTHON} ${models_scripts}/check_detections.py
                       --detect $<TARGET_FILE:detect> --model ${model} --model-dir ${model_dir}
                       --require bicycle,car,dog)
      set_tests_properties(models/decoded/${model} PROPERTIES LABELS "models;real" TIMEOUT 300)
    endforeach()
  else()
    message(STATUS "libaccel: decoded-detection tests not registered (no detect example)")
  endif()
endif()
