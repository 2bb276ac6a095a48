"""Checks behind the `accel` CLI tests registered in tests/cmake/cli.cmake.

usage: cli_helpers.py COMMAND ACCEL [ARGS...]
  verify-fails ACCEL TEST_DIR WORK_DIR  copy TEST_DIR, corrupt its first expected output, and
                                        expect `accel verify` to print FAIL and exit 1
  verify-tolerance ACCEL TEST_DIR WORK_DIR
                                        perturb one expected value by 1% and check that the
                                        default tolerance fails it while accel_tolerance.json
                                        (rtol, rel_l2) decides as documented
  inspect-lists ACCEL WORK_DIR          build a model with two unknown ops and expect
                                        `accel inspect` to list both
  bench-json ACCEL MODEL                expect `accel bench --json` to print one JSON object
                                        with the documented keys
  profile-json ACCEL MODEL              expect `accel profile --json` to print one JSON object
                                        whose node times add up and stay within the run time
  ops-doc ACCEL DOC                     expect DOC to equal `accel ops --markdown`
  exit-code ACCEL CODE ARGS...          expect `accel ARGS...` to exit with CODE
Exits 0 when the expectation holds; prints why and exits 1 otherwise.
"""
import json
import os
import shutil
import subprocess
import sys


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    print("$", " ".join(cmd))
    print(proc.stdout, end="")
    print(proc.stderr, end="", file=sys.stderr)
    return proc


def fail(message):
    print("CHECK FAILED:", message)
    sys.exit(1)


def copy_with_changed_output(test_dir, copy, change):
    """Copies a test directory and applies change(array) to its first expected output."""
    import onnx
    from onnx import numpy_helper

    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(test_dir, copy)
    path = os.path.join(copy, "test_data_set_0", "output_0.pb")
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    want = numpy_helper.to_array(tensor).copy()
    change(want)
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(want, tensor.name).SerializeToString())


def verify_fails(accel, test_dir, work_dir):
    import numpy as np

    copy = os.path.join(work_dir, os.path.basename(test_dir.rstrip("/")) + "_corrupted")

    def corrupt(want):
        want.flat[want.size // 2] += np.asarray(1, dtype=want.dtype)

    copy_with_changed_output(test_dir, copy, corrupt)
    proc = run([accel, "verify", copy])
    if proc.returncode != 1:
        fail(f"exit code {proc.returncode}, want 1")
    if "FAIL " not in proc.stdout or "0 passed, 1 failed, 0 skipped" not in proc.stdout:
        fail("no FAIL line / wrong summary")


def verify_tolerance(accel, test_dir, work_dir):
    copy = os.path.join(work_dir, os.path.basename(test_dir.rstrip("/")) + "_perturbed")

    def perturb(want):
        i = int(abs(want).argmax())  # the largest value, so 1% is far above atol
        want.flat[i] *= 1.01

    copy_with_changed_output(test_dir, copy, perturb)
    cases = [(None, 1), ('{"rtol": 0.02}', 0), ('{"rtol": 0.001, "atol": 0}', 1),
             ('{"rel_l2": 0.1}', 0), ('{"rel_l2": 1e-6}', 1), ('{"rtol": "x"}', 1)]
    for tolerance, want_code in cases:
        path = os.path.join(copy, "accel_tolerance.json")
        if tolerance is None:
            if os.path.exists(path):
                os.remove(path)
        else:
            with open(path, "w") as f:
                f.write(tolerance)
        proc = run([accel, "verify", copy])
        if proc.returncode != want_code:
            fail(f"tolerance {tolerance}: exit code {proc.returncode}, want {want_code}")


def inspect_lists(accel, work_dir):
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Frobnicate", ["x"], ["t"], domain="example.ops"),
        helper.make_node("Twiddle", ["t"], ["y"], domain="example.ops"),
    ]
    graph = helper.make_graph(
        nodes, "two_unknown_ops",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("example.ops", 1)])
    model.ir_version = 8
    path = os.path.join(work_dir, "two_unknown_ops.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    proc = run([accel, "inspect", path])
    if proc.returncode != 0:
        fail(f"exit code {proc.returncode}, want 0")
    for needle in ["example.ops.Frobnicate", "example.ops.Twiddle", "unsupported ops (2)",
                   "float32[N,4]"]:
        if needle not in proc.stdout:
            fail(f"'{needle}' missing from the output")


def bench_json(accel, model):
    proc = run([accel, "bench", model, "--json", "--warmup", "1", "--iters", "3"])
    if proc.returncode != 0:
        fail(f"exit code {proc.returncode}, want 0")
    result = json.loads(proc.stdout)  # exactly one object, nothing else on stdout
    keys = ["create_ms", "first_run_ms", "median_ms", "p90_ms", "min_ms", "peak_rss_mib",
            "threads", "model", "iters", "warmup", "arena_bytes", "arena_lower_bound_bytes",
            "weights_bytes", "packed_weights_bytes", "heap_allocs_per_run",
            "page_faults_per_run", "idle_cpu_ms_per_s"]
    for key in keys:
        if key not in result:
            fail(f"key '{key}' missing")
    if not (0 <= result["min_ms"] <= result["median_ms"] <= result["p90_ms"]):
        fail("latencies are not ordered min <= median <= p90")
    if result["iters"] != 3 or result["warmup"] != 1 or result["peak_rss_mib"] <= 0:
        fail("iters/warmup/peak_rss_mib wrong")
    if result["weights_bytes"] <= 0 or result["arena_bytes"] < result["arena_lower_bound_bytes"]:
        fail("weights_bytes or the arena figures are wrong")


def profile_json(accel, model):
    iters = 3
    proc = run([accel, "profile", model, "--json", "--warmup", "1", "--iters", str(iters),
                "--threads", "1"])
    if proc.returncode != 0:
        fail(f"exit code {proc.returncode}, want 0")
    result = json.loads(proc.stdout)  # exactly one object, nothing else on stdout
    for key in ["model", "threads", "warmup", "iters", "run_ms", "node_sum_ms", "op_types",
                "nodes"]:
        if key not in result:
            fail(f"key '{key}' missing")
    nodes, types = result["nodes"], result["op_types"]
    if not nodes:
        fail("no nodes")
    if any(n["runs"] != iters for n in nodes):
        fail(f"a node did not run {iters} times")
    if len({n["node"] for n in nodes}) != len(nodes):
        fail("a node is listed twice")
    node_sum = sum(n["ms"] for n in nodes)
    if abs(node_sum - result["node_sum_ms"]) > 1e-3 * len(nodes):
        fail(f"node times add up to {node_sum}, node_sum_ms is {result['node_sum_ms']}")
    if not 0 < result["node_sum_ms"] <= result["run_ms"]:
        fail("node_sum_ms is not within (0, run_ms]")
    if sum(t["count"] for t in types) != len(nodes):
        fail("op type counts do not add up to the node count")
    if [t["ms"] for t in types] != sorted((t["ms"] for t in types), reverse=True):
        fail("op types are not sorted by time")


def ops_doc(accel, doc):
    proc = run([accel, "ops", "--markdown"])
    if proc.returncode != 0:
        fail(f"exit code {proc.returncode}, want 0")
    with open(doc) as f:
        if f.read() != proc.stdout:
            fail(f"{doc} is stale: regenerate it with `accel ops --markdown > docs/ops.md`")


def exit_code(accel, code, args):
    proc = run([accel] + args)
    if proc.returncode != int(code):
        fail(f"exit code {proc.returncode}, want {code}")


def main():
    command, accel, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if command == "verify-fails":
        verify_fails(accel, *args)
    elif command == "verify-tolerance":
        verify_tolerance(accel, *args)
    elif command == "inspect-lists":
        inspect_lists(accel, *args)
    elif command == "bench-json":
        bench_json(accel, *args)
    elif command == "profile-json":
        profile_json(accel, *args)
    elif command == "ops-doc":
        ops_doc(accel, *args)
    elif command == "exit-code":
        exit_code(accel, args[0], args[1:])
    else:
        fail(f"unknown command {command}")


if __name__ == "__main__":
    main()
