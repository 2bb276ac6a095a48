#!/usr/bin/env python3
"""How far from its float32 outputs a model moves when only its numbers are rounded to bfloat16.

For each model, ONNX Runtime computes in float32 three times: the model as is (the reference),
the model with the weights of every Conv, ConvTranspose, Gemm and MatMul rounded to bfloat16
(round to nearest even), and that model with the data inputs of those ops rounded as well (a
Cast to bfloat16 and back in front of each; models of opset 13 on, where Cast has bfloat16). Products and sums stay float32, so the error is
the rounding alone: a lower bound for any runtime that computes those ops in bfloat16, ours
included. The relative L2 error (largest over the outputs) is printed per model.

    .venv/bin/python benchmarks/bf16_rounding.py [--models a,b] [--json-out FILE]
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (model set and paths)

HEAVY = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def round_to_bf16(a):
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32).reshape(np.shape(a))


def run(model, feeds):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Unfused, so every op computes in float32 exactly as written.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v for k, v in feeds.items() if k in names})


def rel_l2(outputs, reference):
    worst = 0.0
    for got, want in zip(outputs, reference):
        norm = np.linalg.norm(want)
        worst = max(worst, float(np.linalg.norm(got - want) / (norm if norm > 0 else 1.0)))
    return worst


def with_rounded_weights(model):
    rounded = onnx.ModelProto()
    rounded.CopyFrom(model)
    weights = {n.input[1] for n in rounded.graph.node if n.op_type in HEAVY and len(n.input) > 1}
    for init in rounded.graph.initializer:
        if init.name in weights:
            value = round_to_bf16(numpy_helper.to_array(init))
            init.CopyFrom(numpy_helper.from_array(value, init.name))
    return rounded


def with_rounded_inputs(model):
    rounded = onnx.ModelProto()
    rounded.CopyFrom(model)
    nodes, casts = [], {}
    for node in rounded.graph.node:
        if node.op_type in HEAVY:
            x = node.input[0]
            if x not in casts:
                casts[x] = x + "_bf16_rounded"
                nodes.append(helper.make_node("Cast", [x], [x + "_bf16"], to=TensorProto.BFLOAT16))
                nodes.append(helper.make_node("Cast", [x + "_bf16"], [casts[x]],
                                              to=TensorProto.FLOAT))
            node.input[0] = casts[x]
        nodes.append(node)
    del rounded.graph.node[:]
    rounded.graph.node.extend(nodes)
    return rounded


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated (default: compare.py's set of 11)")
    parser.add_argument("--model-dir", default=os.environ.get("ACCEL_MODEL_DIR", ""))
    parser.add_argument("--test-models-dir", default=os.environ.get(
        "ACCEL_TEST_MODELS_DIR", os.path.join(compare.REPO, "build", "test_models")))
    parser.add_argument("--json-out")
    args = parser.parse_args()
    names = args.models.split(",") if args.models else compare.DEFAULT_MODELS
    results = {}
    print(f"{'model':<26}{'weights':>10}{'weights+inputs':>16}")
    for name in names:
        spec = compare.model_spec(name, args)
        if spec is None:
            print(f"{name:<26}not found")
            continue
        feeds = {n: compare.read_tensor_pb(p)[1] for n, p in spec["inputs"]}
        model = onnx.load(spec["path"])
        reference = run(model, feeds)
        weights = with_rounded_weights(model)
        results[name] = {"weights": rel_l2(run(weights, feeds), reference)}
        both = "-"
        opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                    default=0)
        if opset >= 13:  # Cast to bfloat16 exists from opset 13
            results[name]["weights_and_inputs"] = rel_l2(
                run(with_rounded_inputs(weights), feeds), reference)
            both = f"{results[name]['weights_and_inputs']:.1e}"
        print(f"{name:<26}{results[name]['weights']:>10.1e}{both:>16}")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
