#!/usr/bin/env python3
"""Builds ONNX-backend-test directories for the models export_torch.py exports.

Run with an interpreter that has onnx, onnxruntime and numpy (the project's .venv). It runs
export_torch.py with TORCH_PYTHON (Debian's /usr/bin/python3, which has torch but no
onnxruntime), then writes for every model:

  OUT/<name>/model.onnx
  OUT/<name>/test_data_set_<k>/input_<i>.pb, output_<i>.pb   (ONNX Runtime CPU outputs)
  OUT/<name>/accel_tolerance.json                            ({"rel_l2": 1e-5} or wider)

The work is cached: OUT/stamp.json records a hash of both scripts and the torch version, and
nothing is regenerated while they match and every model directory is complete.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = [os.path.join(HERE, "export_torch.py"), os.path.abspath(__file__)]
BASE_REL_L2 = 1e-5
SEED = 20240


def torch_version(torch_python):
    out = subprocess.run([torch_python, "-c", "import torch; print(torch.__version__)"],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def stamp_for(torch_python, models):
    digest = hashlib.sha256()
    for path in SCRIPTS:
        with open(path, "rb") as f:
            digest.update(f.read())
    return {"scripts_sha256": digest.hexdigest(), "torch": torch_version(torch_python),
            "onnxruntime": ort.__version__, "models": models}


def is_complete(model_dir):
    return (os.path.isfile(os.path.join(model_dir, "model.onnx")) and
            os.path.isfile(os.path.join(model_dir, "accel_tolerance.json")) and
            os.path.isfile(os.path.join(model_dir, "test_data_set_0", "output_0.pb")))


def draw_input(spec, shape, rng, drawn):
    """One input array following the distribution named in the spec (see export_torch.py)."""
    kind = spec["distribution"]
    if kind == "blocky_image":
        n, c, h, w = shape
        cells = spec["cells"]
        low = rng.uniform(spec["low"], spec["high"], size=(n, c, cells, cells))
        img = low.repeat(h // cells, axis=2).repeat(w // cells, axis=3)
        return (img + rng.normal(0.0, spec["noise"], size=img.shape)).astype(np.float32)
    if kind == "padded_tokens":
        tokens = rng.integers(spec["low"], spec["high"], size=shape, dtype=np.int64)
        for row in range(shape[0]):
            pads = min(row * spec["pad_step"], shape[1] - 1)
            tokens[row, shape[1] - pads:] = spec["pad_id"]
        return tokens
    if kind == "equals_pad_of":
        return drawn[spec["of"]] == spec["pad_id"]
    sys.exit(f"unknown input distribution {kind!r}")


def concrete_shape(spec, dims):
    return [dims[d] if isinstance(d, str) else d for d in spec["shape"]]


def write_tensor(path, array, name):
    tensor = numpy_helper.from_array(array, name)
    with open(path, "wb") as f:
        f.write(tensor.SerializeToString())


def rel_l2(got, want):
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


def tolerance_for(spread):
    """rel_l2 bound: 1e-5, widened to 4x the spread between two valid fp32 implementations.

    ONNX Runtime with its graph optimisations (fused Conv+BN+activation, other GEMM blocking)
    differs from itself without them by up to ~3e-5 on the deeper CNNs; an independent runtime
    may legitimately differ as much, so a bound below that would flag rounding, not bugs.
    """
    bound = max(BASE_REL_L2, 4.0 * spread)
    exponent = np.floor(np.log10(bound))
    return float(f"{np.ceil(bound / 10**exponent):.0f}e{exponent:.0f}")


def make_test_dir(name, export_dir, out_dir):
    with open(os.path.join(export_dir, name + ".inputs.json")) as f:
        spec = json.load(f)
    model_dir = os.path.join(out_dir, name)
    shutil.rmtree(model_dir, ignore_errors=True)
    os.makedirs(model_dir)
    model_path = os.path.join(model_dir, "model.onnx")
    shutil.copyfile(os.path.join(export_dir, name + ".onnx"), model_path)
    onnx.checker.check_model(model_path)
    graph_ops = {node.op_type for node in onnx.load(model_path).graph.node}
    missing = set(spec.get("expected_ops", [])) - graph_ops
    if missing:
        sys.exit(f"{name}: the export lacks the ops it is meant to test: {sorted(missing)}")

    options = ort.SessionOptions()
    # The reference should follow the ONNX graph literally, not ORT's fused rewrites of it.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]
    optimized = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    spread = 0.0

    rng = np.random.default_rng(SEED)
    for k, dims in enumerate(spec["data_sets"]):
        data_dir = os.path.join(model_dir, f"test_data_set_{k}")
        os.makedirs(data_dir)
        drawn = {}
        for i, input_spec in enumerate(spec["inputs"]):
            array = draw_input(input_spec, concrete_shape(input_spec, dims), rng, drawn)
            drawn[input_spec["name"]] = array
            write_tensor(os.path.join(data_dir, f"input_{i}.pb"), array, input_spec["name"])
        outputs = session.run(output_names, drawn)
        for got, want in zip(optimized.run(output_names, drawn), outputs):
            spread = max(spread, rel_l2(got, want))
        for i, (out_name, array) in enumerate(zip(output_names, outputs)):
            if not np.all(np.isfinite(array)):
                sys.exit(f"{name}: reference output {out_name} is not finite")
            write_tensor(os.path.join(data_dir, f"output_{i}.pb"), array, out_name)
        summary = ", ".join(f"{n} {list(a.shape)} std {a.std():.3g}"
                            for n, a in zip(output_names, outputs))
        print(f"  {name} data set {k}: {summary}")
    tolerance = {"rel_l2": tolerance_for(spread)}
    print(f"  {name}: ORT optimised vs. unoptimised rel_l2 {spread:.2g} -> {tolerance}")
    with open(os.path.join(model_dir, "accel_tolerance.json"), "w") as f:
        json.dump(tolerance, f)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", required=True, help="where the test directories go")
    parser.add_argument("--torch-python", default="/usr/bin/python3",
                        help="interpreter that has torch and torchvision")
    parser.add_argument("--models", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--force", action="store_true", help="ignore the cache stamp")
    args = parser.parse_args()

    out_dir = os.path.abspath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    stamp_path = os.path.join(out_dir, "stamp.json")
    stamp = stamp_for(args.torch_python, args.models)
    if not args.force and os.path.isfile(stamp_path):
        with open(stamp_path) as f:
            old = json.load(f)
        names = old.get("exported", [])
        if ({k: v for k, v in old.items() if k != "exported"} == stamp and names and
                all(is_complete(os.path.join(out_dir, n)) for n in names)):
            print(f"reference models up to date in {out_dir} ({len(names)} models)")
            return
    if os.path.exists(stamp_path):
        os.remove(stamp_path)

    export_dir = os.path.join(out_dir, "_export")
    shutil.rmtree(export_dir, ignore_errors=True)
    command = [args.torch_python, os.path.join(HERE, "export_torch.py"), "--out-dir", export_dir]
    if args.models:
        command += ["--models", args.models]
    subprocess.run(command, check=True)

    names = sorted(f[:-len(".inputs.json")] for f in os.listdir(export_dir)
                   if f.endswith(".inputs.json"))
    print(f"computing ONNX Runtime {ort.__version__} references for {len(names)} models")
    for name in names:
        make_test_dir(name, export_dir, out_dir)
    shutil.rmtree(export_dir)
    with open(stamp_path, "w") as f:
        json.dump(dict(stamp, exported=names), f, indent=1)


if __name__ == "__main__":
    main()
