#!/usr/bin/env python3
"""Side-by-side latency of libaccel, ONNX Runtime and OpenVINO on the same models and inputs.

Every runtime runs in its own long-lived worker process (libaccel: `accel bench --serve`; ONNX
Runtime and OpenVINO: this script with --worker), so each one's peak RSS is its own. The driver
sends "run K" to one worker at a time and rotates the order every round (A B C, B C A, C A B, ...),
so machine noise hits all runtimes alike. Before timing, each model's outputs are compared across
the three runtimes (relative L2 vs ONNX Runtime); a model whose outputs disagree is not timed.

See benchmarks/README.md for what is measured and how to read the table.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RUNTIMES = ["accel", "ort", "ov"]
LABELS = {"accel": "libaccel", "ort": "ONNX Runtime", "ov": "OpenVINO"}

EXPORTED = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
            "squeezenet1_1", "shufflenet_v2_x1_0", "transformer_encoder_op13",
            "transformer_encoder_op17"]
REAL = {"yolox_nano": "yolox_nano.onnx", "ultraface_rfb320": "version-RFB-320.onnx",
        "fastestdet": "FastestDet.onnx"}
# transformer_encoder_op13 writes LayerNorm as the ReduceMean/Sub/Pow/Sqrt/Div pattern that
# issue 3 wants fused; op17 (one LayerNormalization node) can be added with --models.
DEFAULT_MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small",
                  "efficientnet_b0", "squeezenet1_1", "shufflenet_v2_x1_0",
                  "transformer_encoder_op13", "yolox_nano", "ultraface_rfb320", "fastestdet"]
QUICK_MODELS = ["mobilenet_v2", "squeezenet1_1"]
TOLERANCE = {"fp32": 1e-4, "bf16": 1e-2}


def sanitize(name):
    """The file name `accel run --output-dir` gives an output (see tools/accel/inputs.h)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def read_tensor_pb(path):
    import onnx
    from onnx import numpy_helper
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return tensor.name, numpy_helper.to_array(tensor)


def peak_rss_mib(pid="self"):
    """VmHWM: the high-water mark of this process image. (getrusage's ru_maxrss is no good here:
    Linux carries it over fork+exec, so a worker would inherit the driver's peak.)"""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


# ---------------------------------------------------------------------------------------------
# Worker: one runtime in its own process, driven over stdin/stdout like `accel bench --serve`.

def worker_main(args):
    import numpy as np
    feeds = {}
    for item in args.input:
        name, path = item.rsplit("=", 1)
        feeds[name] = read_tensor_pb(path)[1]
    if args.worker == "ort":
        import onnxruntime as ort
    else:
        import openvino as ov
    base_rss = peak_rss_mib()  # interpreter + numpy + the runtime's libraries, before the model

    start = time.perf_counter()
    if args.worker == "ort":
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
        run = lambda: session.run(None, feeds)
    else:
        core = ov.Core()
        model = core.read_model(args.model)
        # Static shapes, as OpenVINO recommends for latency (ORT and libaccel see them per run).
        model.reshape({name: list(value.shape) for name, value in feeds.items()
                       if any(name in port.get_names() for port in model.inputs)})
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": args.threads,
                  # On a CPU with AVX512_BF16 OpenVINO would otherwise compute in bf16.
                  "INFERENCE_PRECISION_HINT": "bf16" if args.precision == "bf16" else "f32"}
        compiled = core.compile_model(model, "CPU", config)
        request = compiled.create_infer_request()
        feeds = {name: value for name, value in feeds.items()
                 if any(name in port.get_names() for port in compiled.inputs)}

        def run():
            request.infer(feeds)
            return [request.get_output_tensor(i).data.copy() for i in range(len(compiled.outputs))]
    create_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    outputs = run()
    first_run_ms = (time.perf_counter() - start) * 1e3
    for _ in range(args.warmup):
        run()
    reply({"create_ms": create_ms, "first_run_ms": first_run_ms, "threads": args.threads,
           "base_rss_mib": base_rss})
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["quit"]:
            break
        if words[:1] == ["dump"]:  # dump DIR: outputs as DIR/out_<i>.npy, in graph order
            for i, value in enumerate(outputs):
                np.save(os.path.join(words[1], f"out_{i}.npy"), np.asarray(value))
            reply({"dumped": len(outputs)})
            continue
        times = []
        for _ in range(int(words[1])):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1e3)
        reply({"times_ms": times})
    reply({"peak_rss_mib": peak_rss_mib()})


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Driver.

class Worker:
    """A runtime's process; `ask` sends one command line and returns its one-line JSON reply."""

    def __init__(self, kind, cmd, pin):
        self.kind = kind
        preexec = (lambda: os.sched_setaffinity(0, pin)) if pin else None
        # stderr to a file, not a pipe: a chatty runtime (ORT warns once per unused initializer)
        # would fill an unread pipe and block.
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1,
                                     preexec_fn=preexec)
        self.hello = self.read()

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.stderr.seek(0)
            err = self.stderr.read().strip()
            raise RuntimeError(f"{LABELS[self.kind]} worker exited "
                               f"({self.proc.returncode}): {err[-2000:]}")
        return json.loads(line)

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def cpu_seconds(self):
        """User + system CPU time of the process so far (to catch spinning while idle)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        try:
            rss = peak_rss_mib(self.proc.pid)
            return dict(self.ask("quit"), peak_rss_mib=rss)
        finally:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def model_spec(name, args):
    if name in REAL:
        folder = os.path.join(args.model_dir, name)
        path = os.path.join(folder, REAL[name])
    else:
        folder = os.path.join(args.test_models_dir, name)
        path = os.path.join(folder, "model.onnx")
    data = os.path.join(folder, "test_data_set_0")
    if not os.path.isfile(path) or not os.path.isdir(data):
        return None
    inputs = sorted(f for f in os.listdir(data) if f.startswith("input_"))
    inputs.sort(key=lambda f: int(f[6:-3]))
    return {"name": name, "path": path,
            "inputs": [(read_tensor_pb(os.path.join(data, f))[0], os.path.join(data, f))
                       for f in inputs]}


def input_flags(spec):
    return [f"--input={n}={p}" for n, p in spec["inputs"]]


def start_worker(kind, spec, threads, args, warmup):
    pin = set(range(threads)) if args.pin else None
    if kind == "accel":
        cmd = [args.accel, "bench", spec["path"], "--serve", "--threads", str(threads),
               "--warmup", str(warmup)] + input_flags(spec)
        if args.precision != "fp32":
            cmd += ["--precision", args.precision]
        cmd += args.accel_arg
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--model",
               spec["path"], "--threads", str(threads), "--warmup", str(warmup),
               "--precision", args.precision] + input_flags(spec)
    return Worker(kind, cmd, pin)


def count_flops(spec):
    """2 * multiply-accumulates of Conv/ConvTranspose/Gemm/MatMul, from ONNX shape inference
    with the benchmark input's shapes. Returns (flops, complete)."""
    import onnx
    from onnx import shape_inference
    model = onnx.load(spec["path"])
    shapes = {n: read_tensor_pb(p)[1].shape for n, p in spec["inputs"]}
    for value in model.graph.input:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            for dim, size in zip(dims, shapes[value.name]):
                dim.ClearField("dim_param")
                dim.dim_value = size
    model = shape_inference.infer_shapes(model, data_prop=True)
    known = {}
    for value in list(model.graph.value_info) + list(model.graph.input) + list(
            model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value")
                                                            for d in dims):
            known[value.name] = [d.dim_value for d in dims]
    for init in model.graph.initializer:
        known[init.name] = list(init.dims)
    wanted = {name for node in model.graph.node
              if node.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul")
              for name in list(node.input[:2]) + [node.output[0]] if name not in known}
    if wanted:
        known.update(shapes_from_ort(model, spec, wanted))
    flops, complete = 0, True
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
            continue
        a, b, y = (known.get(node.input[0]), known.get(node.input[1]),
                   known.get(node.output[0]))
        if a is None or b is None or y is None:
            complete = False
            continue
        if node.op_type == "Conv":  # each output element: Cin/group * kernel MACs
            macs = math.prod(y) * math.prod(b[1:])
        elif node.op_type == "ConvTranspose":  # each input element scatters Cout/group * kernel
            macs = math.prod(a) * math.prod(b[1:])
        elif node.op_type == "Gemm":
            trans_a = any(at.name == "transA" and at.i for at in node.attribute)
            macs = math.prod(y) * (a[0] if trans_a else a[-1])
        else:
            macs = math.prod(y) * a[-1]
        flops += 2 * macs
    return flops, complete


def shapes_from_ort(model, spec, names):
    """Shapes shape inference could not resolve (a Reshape to a computed shape, say), read off
    one ONNX Runtime run that exposes those values as graph outputs."""
    import onnx
    import onnxruntime as ort
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph_outputs = {o.name for o in model.graph.output}
    for name in sorted(names - graph_outputs):
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    try:
        session = ort.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        feeds = dict(read_tensor_pb(p) for _, p in spec["inputs"])
        feeds = {i.name: feeds[i.name] for i in session.get_inputs() if i.name in feeds}
        names_out = [o.name for o in session.get_outputs()]
        values = session.run(names_out, feeds)
    except Exception as e:  # the count is then reported as partial
        print(f"  FLOP count: ONNX Runtime could not expose intermediate shapes: {e}")
        return {}
    return {n: list(v.shape) for n, v in zip(names_out, values) if n in names}


def check_outputs(spec, args, tmp):
    """Relative L2 of libaccel's and OpenVINO's outputs vs ONNX Runtime's (worst output)."""
    import numpy as np
    dirs = {}
    for kind in ("ort", "ov"):
        dirs[kind] = os.path.join(tmp, kind)
        os.makedirs(dirs[kind])
        worker = start_worker(kind, spec, 1, args, 0)
        try:
            worker.ask("dump " + dirs[kind])
            worker.close()
        finally:
            worker.kill()
    dirs["accel"] = os.path.join(tmp, "accel")
    cmd = [args.accel, "run", spec["path"], "--threads", "1", "--output-dir", dirs["accel"]]
    if args.precision != "fp32":
        cmd += ["--precision", args.precision]
    cmd += args.accel_arg
    done = subprocess.run(cmd + input_flags(spec), capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"accel run failed: {done.stderr.strip()[-500:]}"
    import onnx
    names = [o.name for o in onnx.load(spec["path"], load_external_data=False).graph.output]
    errors = {"accel": 0.0, "ov": 0.0}
    for i, name in enumerate(names):
        ref = np.load(os.path.join(dirs["ort"], f"out_{i}.npy")).astype(np.float64)
        got = {"accel": os.path.join(dirs["accel"], sanitize(name) + ".npy"),
               "ov": os.path.join(dirs["ov"], f"out_{i}.npy")}
        for kind, path in got.items():
            if not os.path.isfile(path):
                return None, f"{LABELS[kind]} wrote no output '{name}'"
            value = np.load(path).astype(np.float64)
            if value.shape != ref.shape:
                return None, (f"{LABELS[kind]} output '{name}' has shape {value.shape}, "
                              f"ONNX Runtime {ref.shape}")
            norm = np.linalg.norm(ref)
            err = np.linalg.norm(value - ref) / (norm if norm > 0 else 1.0)
            errors[kind] = max(errors[kind], float(err) if np.isfinite(err) else math.inf)
    return errors, None


def summarize(samples):
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered), max(1, math.ceil(0.9 * len(ordered)))) - 1]
    return {"median_ms": statistics.median(ordered), "p90_ms": p90, "min_ms": ordered[0]}


def bench_one(spec, threads, args):
    workers = {}
    try:
        for kind in RUNTIMES:  # created one after another: each create time is measured alone
            workers[kind] = start_worker(kind, spec, threads, args, args.warmup)
        samples = {kind: [] for kind in RUNTIMES}
        round_medians = {kind: [] for kind in RUNTIMES}
        idle_cpu = {kind: 0.0 for kind in RUNTIMES}
        for r in range(args.rounds):
            order = RUNTIMES[r % 3:] + RUNTIMES[:r % 3]
            for kind in order:
                # Let the previous runtime's threads stop spinning (ORT and OpenMP spin-wait
                # for a while after a run) before the next one is timed.
                time.sleep(args.gap_ms / 1e3)
                before = {k: workers[k].cpu_seconds() for k in RUNTIMES if k != kind}
                times = workers[kind].ask(f"run {args.iters}")["times_ms"]
                for k, cpu in before.items():
                    idle_cpu[k] += workers[k].cpu_seconds() - cpu
                samples[kind] += times
                round_medians[kind].append(statistics.median(times))
        result = {}
        ends = {kind: workers[kind].close() for kind in RUNTIMES}
        creates = {kind: [workers[kind].hello["create_ms"]] for kind in RUNTIMES}
        # One creation is one sample of a noisy quantity (page cache, thread placement on a
        # shared host): fresh processes add samples, interleaved, and the median is reported.
        for s in range(1, args.create_samples):
            order = RUNTIMES[s % 3:] + RUNTIMES[:s % 3]
            for kind in order:
                extra = start_worker(kind, spec, threads, args, 0)
                try:
                    creates[kind].append(extra.hello["create_ms"])
                    extra.close()
                finally:
                    extra.kill()
        for kind in RUNTIMES:
            end = ends[kind]
            hello = workers[kind].hello
            result[kind] = dict(summarize(samples[kind]),
                                create_ms=statistics.median(creates[kind]),
                                create_samples_ms=creates[kind],
                                first_run_ms=hello["first_run_ms"],
                                peak_rss_mib=end["peak_rss_mib"],
                                base_rss_mib=hello.get("base_rss_mib"),
                                idle_cpu_ms=idle_cpu[kind] * 1e3,
                                round_medians_ms=round_medians[kind])
        return result
    finally:
        for worker in workers.values():
            worker.kill()


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def accel_over(rows, kind):
    """Geometric mean of libaccel's median latency over runtime `kind`'s, across `rows`."""
    return geomean([row["accel"]["median_ms"] / row[kind]["median_ms"] for row in rows])


def print_table(threads, rows, precision):
    print(f"\n== {threads} thread{'s' if threads > 1 else ''}, {precision} ==")
    head = (f"{'model':<26}{'runtime':<13}{'median':>9}{'p90':>9}{'min':>9}{'create':>9}"
            f"{'RSS':>8}{'(base)':>8}{'idle':>7}{'x accel':>9}{'GFLOP/s':>9}{'relL2':>9}")
    print(head + "\n" + "-" * len(head))
    for row in rows:
        if "skipped" in row:
            print(f"{row['model']:<26}not timed: {row['skipped']}")
            continue
        for kind in RUNTIMES:
            r = row[kind]
            base = f"{r['base_rss_mib']:.0f}" if r.get("base_rss_mib") else "-"
            gflops = f"{row['gflops']:.1f}" if kind == "accel" and row.get("gflops") else ""
            err = "" if kind == "ort" else f"{row['rel_l2'][kind]:.1e}"
            print(f"{row['model'] if kind == 'accel' else '':<26}{LABELS[kind]:<13}"
                  f"{r['median_ms']:>9.3f}{r['p90_ms']:>9.3f}{r['min_ms']:>9.3f}"
                  f"{r['create_ms']:>9.1f}{r['peak_rss_mib']:>8.0f}{base:>8}"
                  f"{r['idle_cpu_ms']:>7.0f}{r['ratio']:>9.3f}{gflops:>9}{err:>9}")
    timed = [row for row in rows if "skipped" not in row]
    if timed:
        for kind in ("ort", "ov"):
            g = accel_over(timed, kind)
            print(f"geomean libaccel / {LABELS[kind]} median latency: {g:.3f} "
                  f"({len(timed)} models)")
        over = [row["model"] for row in timed if row.get("over_tolerance")]
        if over:
            within = [row for row in timed if not row.get("over_tolerance")]
            g = accel_over(within, "ort")
            print(f"outputs over the {TOLERANCE[precision]:g} tolerance (timed anyway): "
                  f"{', '.join(over)}; geomean libaccel / ONNX Runtime over the other "
                  f"{len(within)}: " + (f"{g:.3f}" if within else "-"))
        slower = [row["model"] for row in timed if row["ort"]["ratio"] < 1]
        slow_create = [row["model"] for row in timed
                       if row["accel"]["create_ms"] > row["ort"]["create_ms"]]
        # The fastest of the fresh processes: what creation costs when the host leaves it alone.
        slow_best = [row["model"] for row in timed
                     if min(row["accel"]["create_samples_ms"])
                     > min(row["ort"]["create_samples_ms"])]
        print(f"libaccel slower than ONNX Runtime on: {', '.join(slower) or 'none'}")
        print(f"libaccel create > ONNX Runtime create on: {', '.join(slow_create) or 'none'}")
        print(f"libaccel fastest create > ONNX Runtime fastest create on: "
              f"{', '.join(slow_best) or 'none'}")
    skipped = [row["model"] for row in rows if "skipped" in row]
    if skipped:
        print(f"not timed (left out of the geomeans): {', '.join(skipped)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated (default: the issue 3 set of 11): "
                        + ",".join(EXPORTED + list(REAL)))
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds per runtime")
    parser.add_argument("--iters", type=int, default=10, help="timed runs per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs after the first")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--time-over-tolerance", action="store_true",
                        help="also time models whose outputs are over the tolerance (1e-4 fp32, "
                        "1e-2 bf16); their rows say so and the summary lists them")
    parser.add_argument("--quick", action="store_true",
                        help=f"development: {','.join(QUICK_MODELS)}, 3 rounds of 3, warmup 1")
    parser.add_argument("--create-samples", type=int, default=3,
                        help="creations per runtime (fresh processes); the median is reported")
    parser.add_argument("--gap-ms", type=float, default=100,
                        help="pause before each round (lets spinning threads go idle)")
    parser.add_argument("--pin", action="store_true",
                        help="pin every worker to CPUs 0..N-1 (N = threads)")
    parser.add_argument("--accel", default=os.environ.get(
        "ACCEL_BIN", os.path.join(REPO, "build", "tools", "accel")), help="the accel binary")
    parser.add_argument("--accel-arg", action="append", default=[],
                        help="extra flag for `accel bench` and `accel run`, e.g. "
                        "--accel-arg=--opt-level=0; repeatable")
    parser.add_argument("--model-dir", default=os.environ.get("ACCEL_MODEL_DIR") or os.path.join(
                            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                            "libaccel", "models"),
                        help="real models (default $ACCEL_MODEL_DIR, else the fetcher's cache)")
    parser.add_argument("--test-models-dir", default=os.environ.get(
        "ACCEL_TEST_MODELS_DIR", os.path.join(REPO, "build", "test_models")),
        help="exported models (make_reference.py output)")
    parser.add_argument("--json-out", help="write all results to this JSON file")
    # Internal: run one runtime as a worker process.
    parser.add_argument("--worker", choices=["ort", "ov"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--input", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.threads = int(args.threads)
        return worker_main(args)

    if args.quick:
        args.rounds, args.iters, args.warmup, args.create_samples = 3, 3, 1, 1
    models = args.models.split(",") if args.models else (
        QUICK_MODELS if args.quick else DEFAULT_MODELS)
    thread_counts = [int(t) for t in args.threads.split(",")]
    if not os.access(args.accel, os.X_OK):
        sys.exit(f"no accel binary at {args.accel}: build it (ninja -C build accel_cli) or pass "
                 "--accel")
    if args.precision != "fp32":
        usage = subprocess.run([args.accel, "bench", "--help"], capture_output=True, text=True)
        if "--precision" not in usage.stdout:
            print(f"precision {args.precision}: not supported by this accel build "
                  "(`accel bench --help` has no --precision); nothing timed")
            if args.json_out:
                with open(args.json_out, "w") as f:
                    json.dump({"precision": args.precision, "supported": False}, f, indent=1)
            return 0

    started = time.time()
    specs, results = [], {t: [] for t in thread_counts}
    tmp = tempfile.mkdtemp(prefix="accel-compare-")
    try:
        for name in models:
            spec = model_spec(name, args)
            if spec is None:
                where = args.model_dir if name in REAL else args.test_models_dir
                hint = ("" if name in REAL else
                        " (create it: .venv/bin/python tests/models/make_reference.py --out-dir "
                        f"{args.test_models_dir}, or `ctest --test-dir build -R "
                        "models/export_reference`; or pass --test-models-dir)")
                sys.exit(f"{name}: model or test_data_set_0 not found under {where}{hint}")
            print(f"[{time.time() - started:6.0f}s] {name}: checking outputs", flush=True)
            flops, complete = count_flops(spec)
            try:
                errors, why = check_outputs(spec, args, os.path.join(tmp, name))
            except RuntimeError as e:
                errors, why = None, str(e)
            over_tolerance = False
            if why is None:
                bad = {k: e for k, e in errors.items() if not e <= TOLERANCE[args.precision]}
                # A NaN error (or a failed run) is never timed.
                finite = all(math.isfinite(e) for e in bad.values())
                if bad and args.time_over_tolerance and finite:
                    over_tolerance = "accel" in bad
                elif bad:
                    why = "outputs disagree with ONNX Runtime: " + ", ".join(
                        f"{LABELS[k]} rel L2 {e:.2e}" for k, e in bad.items()) + (
                        f" > {TOLERANCE[args.precision]:g}")
            for threads in thread_counts:
                row = {"model": name, "path": spec["path"], "gflop": flops / 1e9,
                       "gflop_complete": complete}
                if why is not None:
                    print(f"  {name}: NOT TIMED: {why}", flush=True)
                    results[threads].append(dict(row, skipped=why))
                    continue
                print(f"[{time.time() - started:6.0f}s] {name}: {threads} thread(s)", flush=True)
                try:
                    row.update(bench_one(spec, threads, args))
                except RuntimeError as e:
                    print(f"  {name}: NOT TIMED: {e}", flush=True)
                    results[threads].append(dict(row, skipped=str(e)))
                    continue
                row["rel_l2"] = errors
                if over_tolerance:
                    row["over_tolerance"] = True
                for kind in RUNTIMES:
                    row[kind]["ratio"] = row[kind]["median_ms"] / row["accel"]["median_ms"]
                if flops and complete:
                    row["gflops"] = flops / 1e9 / (row["accel"]["median_ms"] / 1e3)
                results[threads].append(row)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\nmedian/p90/min/create in ms (create: median of {args.create_samples} fresh "
          "processes); RSS = peak RSS of the runtime's own process, MiB "
          "((base) = Python workers' RSS before loading the model); idle = CPU ms the process "
          "used while another runtime was timed; x accel = median / libaccel median; relL2 vs "
          "ONNX Runtime")
    summary = {}
    for threads in thread_counts:
        print_table(threads, results[threads], args.precision)
        timed = [row for row in results[threads] if "skipped" not in row]
        summary[threads] = {f"geomean_accel_over_{k}": accel_over(timed, k) for k in ("ort", "ov")}
        if args.time_over_tolerance:
            summary[threads]["geomean_accel_over_ort_within_tolerance"] = accel_over(
                [row for row in timed if not row.get("over_tolerance")], "ort")
    elapsed = time.time() - started
    print(f"\ntotal {elapsed:.0f} s; load average {os.getloadavg()[0]:.2f} (1 min) on "
          f"{os.cpu_count()} CPUs")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"precision": args.precision, "rounds": args.rounds, "iters": args.iters,
                       "warmup": args.warmup, "gap_ms": args.gap_ms, "pin": args.pin, "accel": args.accel,
                       "accel_args": args.accel_arg,
                       "elapsed_s": elapsed, "loadavg": os.getloadavg(),
                       "results": {str(t): results[t] for t in thread_counts},
                       "summary": {str(t): s for t, s in summary.items()}}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
