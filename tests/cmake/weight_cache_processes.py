#!/usr/bin/env python3
"""The weight cache file across processes, through `accel run --weight-cache`.

Usage: weight_cache_processes.py ACCEL WORK_DIR

Builds a small Conv model, then: three processes start at once on a missing cache file (each
may write it: temporary file + rename); their outputs equal a run without the cache, the file
is complete and no temporary file is left. A later (warm) run maps the file; runs on a file
with flipped data bytes and on a truncated file still equal the reference (within fp32
tolerance: each process may time a different convolution algorithm faster) and rebuild it.
"""
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def write_model(path):
    rng = np.random.default_rng(7)
    nodes, inits, cur = [], [], "x"
    for i in range(3):
        w = rng.uniform(-0.05, 0.05, (64, 64, 3, 3)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, "w%d" % i))
        nodes.append(helper.make_node("Conv", [cur, "w%d" % i], ["y%d" % i], pads=[1, 1, 1, 1]))
        cur = "y%d" % i
    graph = helper.make_graph(
        nodes, "wcache", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 8, 8])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return cur


def main():
    accel, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model = os.path.join(work, "model.onnx")
    out_name = write_model(model)
    x = os.path.join(work, "x.npy")
    np.save(x, np.random.default_rng(1).standard_normal((1, 64, 8, 8)).astype(np.float32))
    cache = os.path.join(work, "w.cache")

    def start(tag, with_cache=True):
        out_dir = os.path.join(work, tag)
        cmd = [accel, "run", model, "--input", "x=" + x, "--threads", "1", "--output-dir", out_dir]
        if with_cache:
            cmd += ["--weight-cache", cache]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def result(tag, proc):
        out, _ = proc.communicate()
        if proc.returncode != 0:
            fail("%s exited with %d:\n%s" % (tag, proc.returncode, out))
        return np.load(os.path.join(work, tag, out_name + ".npy"))

    def same(a, b):
        # Each process times Winograd against direct convolution for these layers and may pick
        # either (their sums round differently); a damaged weight changes far more than this.
        return a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5)

    def leftovers():
        return [n for n in os.listdir(work) if n.startswith("w.cache.tmp")]

    ref = result("ref", start("ref", with_cache=False))
    procs = [(tag, start(tag)) for tag in ("p1", "p2", "p3")]
    for tag, proc in procs:
        if not same(result(tag, proc), ref):
            fail(tag + ": output differs from the run without a cache file")
    if not os.path.exists(cache):
        fail("no cache file after the first runs")
    if leftovers():
        fail("temporary files left: %s" % leftovers())
    if not same(result("warm", start("warm")), ref):
        fail("warm run differs")

    with open(cache, "rb") as f:
        good = f.read()
    # A flipped byte in every entry: whichever layouts this process picks, it meets one.
    entry_count = struct.unpack_from("<Q", good, 48)[0]
    flipped = bytearray(good)
    for i in range(entry_count):
        # The top byte of a float (sign and exponent): the value changes by orders of magnitude.
        flipped[struct.unpack_from("<Q", good, 128 + 64 * i + 32)[0] + 103] ^= 0x40
    truncated = good[: len(good) // 2]
    for tag, damaged in (("flipped", bytes(flipped)), ("truncated", truncated)):
        with open(cache, "wb") as f:
            f.write(damaged)
        if not same(result(tag, start(tag)), ref):
            fail(tag + " cache file changed the result")
        with open(cache, "rb") as f:
            rebuilt = f.read()
        # Rewritten and whole by its own header (file_bytes at offset 64). Its size may differ
        # from the first file's: the process may time a layer's algorithms to another choice.
        if (rebuilt == damaged or len(rebuilt) < 128 or
                struct.unpack_from("<Q", rebuilt, 64)[0] != len(rebuilt)):
            fail(tag + " cache file was not rebuilt")
    print("ok: concurrent first use, warm, flipped and truncated files")


if __name__ == "__main__":
    main()
