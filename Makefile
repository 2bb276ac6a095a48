# libaccel: the two commands of a fresh machine are `make demo` and `make test`.
# Each installs what is missing (scripts/setup.sh), configures, builds incrementally and runs.
#
#   make demo       build examples/detect and run it on yolox_nano + dog.jpg
#   make test       build everything and run the test suite (without tests labelled "slow")
#   make test-all   the same, slow tests included
#   make models     find or download every file of models/manifest.json; print the model dir
#   make format     clang-format every tracked C++ file in place
#   make clean      remove the build trees
#
# Variables: BUILD_DIR (default build), JOBS (default: all cores), CTEST_ARGS (extra ctest
# arguments, e.g. CTEST_ARGS="-R verify"), SANITIZE=0 (skip the ASan+UBSan tree and its tests).

BUILD_DIR ?= build
ASAN_DIR ?= $(BUILD_DIR)-asan
JOBS ?= $(shell nproc)
SANITIZE ?= 1
CTEST_ARGS ?=
DEMO_OUT ?= $(BUILD_DIR)/detections.png

# ACCEL_MODEL_DIR for configure and tests: the directory in which scripts/fetch_models.py finds
# (or downloads) every file of models/manifest.json, computed once per make run. When some file
# cannot be had, the real-model tests are not registered (everything else still runs), unless
# ACCEL_MODEL_DIR was set by the caller: then its missing or corrupt files are an error.
# (make 4.3 runs $(shell) without the command line's variables: pass ACCEL_MODEL_DIR on.)
MODEL_DIR = $(eval MODEL_DIR := $(shell ACCEL_MODEL_DIR="$(ACCEL_MODEL_DIR)" \
  scripts/fetch_models.py --print-dir --quiet))$(MODEL_DIR)
SET_MODEL_DIR = \
  if [ -n "$(MODEL_DIR)" ]; then export ACCEL_MODEL_DIR="$(MODEL_DIR)"; \
  elif [ -n "$${ACCEL_MODEL_DIR:-}" ]; then \
    echo "make: ACCEL_MODEL_DIR=$$ACCEL_MODEL_DIR lacks files of models/manifest.json (above)" >&2; \
    exit 1; \
  else \
    echo "make: model files missing (above): the real-model tests are skipped" >&2; \
  fi

CMAKE_FLAGS = -G Ninja -DCMAKE_BUILD_TYPE=Release -DACCEL_SANITIZER_TESTS=$(SANITIZE) \
  -DACCEL_SANITIZER_BUILD_DIR=$(abspath $(ASAN_DIR))

.PHONY: all setup build build-sanitized demo test test-all models format check-format clean

all: build

setup:
	@scripts/setup.sh

build: setup
	@$(SET_MODEL_DIR); \
	  cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) && cmake --build $(BUILD_DIR) -j $(JOBS)

build-sanitized: setup
	@if [ "$(SANITIZE)" = 1 ]; then scripts/build_sanitized.sh $(ASAN_DIR) $(JOBS); fi

# ctest's summary must be the last thing printed (CI reads it): nothing runs after it.
test: build build-sanitized
	@$(SET_MODEL_DIR); \
	  scripts/run_ctest.sh $(BUILD_DIR) --output-on-failure --no-label-summary -j $(JOBS) \
	    --timeout 1800 $(if $(SLOW),,-LE slow) $(CTEST_ARGS)

test-all:
	@$(MAKE) --no-print-directory test SLOW=1

demo: setup
	@dir="$$(scripts/fetch_models.py --print-dir --upstream-only yolox_nano images/dog.jpg)" && \
	  cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) && \
	  cmake --build $(BUILD_DIR) -j $(JOBS) --target detect && \
	  $(BUILD_DIR)/examples/detect/detect --model-dir "$$dir" --model yolox_nano \
	    --image "$$dir/images/dog.jpg" --out $(DEMO_OUT)

models:
	@scripts/fetch_models.py

format:
	@scripts/check_format.sh --fix

check-format:
	@scripts/check_format.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
