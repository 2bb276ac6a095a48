#!/usr/bin/env python3
"""Makes `accel verify` test directories for the real models in a model directory.

For each NAME, OUT/NAME/ gets symlinks to MODEL_DIR/NAME/*.onnx and its test_data_set_*
folders, plus an accel_tolerance.json: the stored outputs come from ONNX Runtime and are a
reference, not ground truth, so the bound is fp32-sized: max |got - want| <= 1e-4 * scale,
scale being the largest |value| of the stored outputs (the smallest such scale over all outputs,
so every output is held to its own or a stricter bound).
"""

import argparse
import glob
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

RELATIVE_BOUND = 1e-4


def output_scale(data_dirs):
    scales = []
    for data_dir in data_dirs:
        for path in sorted(glob.glob(os.path.join(data_dir, "output_*.pb"))):
            array = numpy_helper.to_array(onnx.load_tensor(path))
            scales.append(float(np.abs(array).max()) if array.size else 0.0)
    positive = [s for s in scales if s > 0]
    return min(positive) if positive else 1.0


def prepare(name, model_dir, out_dir):
    src = os.path.join(model_dir, name)
    models = glob.glob(os.path.join(src, "*.onnx"))
    data_dirs = sorted(glob.glob(os.path.join(src, "test_data_set_*")))
    if len(models) != 1 or not data_dirs:
        sys.exit(f"{src}: expected one .onnx file and test_data_set_* folders")
    dst = os.path.join(out_dir, name)
    os.makedirs(dst, exist_ok=True)
    for entry in os.listdir(dst):
        path = os.path.join(dst, entry)
        if os.path.islink(path) or entry == "accel_tolerance.json":
            os.remove(path)
    for target in models + data_dirs:
        os.symlink(os.path.abspath(target), os.path.join(dst, os.path.basename(target)))
    scale = output_scale(data_dirs)
    tolerance = {"atol": float(f"{RELATIVE_BOUND * scale:.3g}"), "rtol": 0.0}
    with open(os.path.join(dst, "accel_tolerance.json"), "w") as f:
        json.dump(tolerance, f)
        f.write("\n")
    print(f"{name}: output scale {scale:.4g} -> {tolerance}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()
    for name in args.names:
        prepare(name, args.model_dir, args.out_dir)


if __name__ == "__main__":
    main()
