#!/usr/bin/env python3
"""Runs `accel run` on the stored MNIST input and checks the predicted digit.

The digit expected is expected.json's decoded.digit (7: the input is a rendered "7"). The input
is the stored test_data_set_0/input_0.pb; the argmax is taken with numpy on the .npy output.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accel", required=True, help="the accel CLI binary")
    parser.add_argument("--model-dir", required=True, help="the mnist_cntk folder")
    parser.add_argument("--work-dir", required=True, help="scratch folder for the outputs")
    args = parser.parse_args()

    with open(os.path.join(args.model_dir, "expected.json")) as f:
        want = json.load(f)["decoded"]["digit"]
    model = glob.glob(os.path.join(args.model_dir, "*.onnx"))[0]
    input_pb = os.path.join(args.model_dir, "test_data_set_0", "input_0.pb")
    input_name = onnx.load_tensor(input_pb).name

    shutil.rmtree(args.work_dir, ignore_errors=True)
    command = [args.accel, "run", model, "--input", f"{input_name}={input_pb}",
               "--output-dir", args.work_dir]
    print(" ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        sys.exit("accel run failed")
    outputs = glob.glob(os.path.join(args.work_dir, "*.npy"))
    if len(outputs) != 1:
        sys.exit(f"expected one output .npy in {args.work_dir}, found {outputs}")
    logits = np.load(outputs[0])
    got = int(np.argmax(logits))
    print(f"logits {logits.ravel().round(3).tolist()}: argmax {got}, expected {want}")
    if got != want:
        sys.exit(1)


if __name__ == "__main__":
    main()
