#!/usr/bin/env bash
# Installs what building and testing libaccel needs, and only what is missing:
#   1. Debian packages (apt-get, as root or through passwordless sudo);
#   2. the Python virtual environment .venv (onnx, onnxruntime, numpy, openvino from PyPI),
#      used by tests and benchmarks to make reference outputs.
# Idempotent: a second run checks and returns within a second or two.
# Debian's python3-torch (used with /usr/bin/python3 to export test models) is one of the
# packages; it is not installed into the venv.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

apt_packages=(
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers libeigen3-dev libflatbuffers-dev
  flatbuffers-compiler catch2 libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  libstb-dev python3-torch python3-torchvision python3-venv ccache cmake ninja-build
  clang-format g++
)

log() { echo "setup: $*" >&2; }

install_apt_packages() {
  local missing=()
  for pkg in "${apt_packages[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
      missing+=("$pkg")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      log "missing Debian packages: ${missing[*]}"
      log "install them with: sudo apt-get install ${missing[*]}"
      exit 1
    fi
  fi
  log "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# The venv is made by the first python3 on PATH: on the project's machines that is the
# interpreter that reaches PyPI (Debian's /usr/bin/python3 is kept for torch).
setup_venv() {
  local venv="$repo_root/.venv"
  local requirements="$repo_root/scripts/requirements.txt"
  local stamp="$venv/.accel-requirements"
  if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c '' 2>/dev/null &&
     cmp -s "$requirements" "$stamp"; then
    return 0
  fi
  if ! [[ -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    log "creating the Python venv $venv with $(command -v python3)"
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  log "installing Python packages into $venv: $(grep -v '^#' "$requirements" | xargs)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" </dev/null
  cp "$requirements" "$stamp"
}

install_apt_packages
setup_venv
