#!/usr/bin/env python3
"""Tests of fetch_models.py on a throwaway manifest. No network: "upstream" is a file:// URL
(urllib reads it like any download) or a URL that is never contacted (--offline)."""

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import unittest
from unittest import mock
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fetch_models  # noqa: E402

MODEL_BYTES = b"pretend this is an onnx model"
REFERENCE_BYTES = b"pretend this is a reference output"
# The caller's model directory, for the one test that checks the real manifest against it.
REAL_MODEL_DIR = os.environ.get("ACCEL_MODEL_DIR")


def sha(data):
    return hashlib.sha256(data).hexdigest()


class FetchModelsTest(unittest.TestCase):
    def setUp(self):
        self.tmp_holder = tempfile.TemporaryDirectory()
        self.tmp = Path(self.tmp_holder.name)
        self.upstream = self.tmp / "upstream"
        self.upstream.mkdir()
        (self.upstream / "model.onnx").write_bytes(MODEL_BYTES)
        self.model_dir = self.tmp / "model_dir"
        self.cache_dir = self.tmp / "cache"
        self.manifest = self.tmp / "manifest.json"
        self.write_manifest((self.upstream / "model.onnx").as_uri())
        # Isolate every test from the caller's model directory.
        env = mock.patch.dict(os.environ)
        env.start()
        self.addCleanup(env.stop)
        os.environ.pop("ACCEL_MODEL_DIR", None)

    def tearDown(self):
        self.tmp_holder.cleanup()

    def write_manifest(self, url):
        manifest = {"schema": 1, "groups": [{"name": "toy", "files": [
            {"path": "toy/model.onnx", "sha256": sha(MODEL_BYTES), "url": url},
            {"path": "toy/test_data_set_0/output_0.pb", "sha256": sha(REFERENCE_BYTES)},
        ]}]}
        self.manifest.write_text(json.dumps(manifest))

    def put(self, root, rel, data):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def run_fetch(self, *args, model_dir=True):
        argv = ["--manifest", str(self.manifest), "--cache-dir", str(self.cache_dir), "--print-dir"]
        if model_dir:
            argv += ["--model-dir", str(self.model_dir)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = fetch_models.main(argv + list(args))
        return code, out.getvalue().strip(), err.getvalue()

    def test_model_dir_is_preferred(self):
        self.put(self.model_dir, "toy/model.onnx", MODEL_BYTES)
        self.put(self.model_dir, "toy/test_data_set_0/output_0.pb", REFERENCE_BYTES)
        self.put(self.cache_dir, "toy/model.onnx", MODEL_BYTES)
        code, out, err = self.run_fetch("--offline")
        self.assertEqual(code, 0, err)
        self.assertEqual(Path(out), self.model_dir.resolve())

    def test_model_dir_from_environment(self):
        self.put(self.model_dir, "toy/model.onnx", MODEL_BYTES)
        self.put(self.model_dir, "toy/test_data_set_0/output_0.pb", REFERENCE_BYTES)
        # The default of --model-dir is read when the parser is built, i.e. in main().
        with mock.patch.dict(os.environ, {"ACCEL_MODEL_DIR": str(self.model_dir)}):
            code, out, err = self.run_fetch("--offline", model_dir=False)
        self.assertEqual(code, 0, err)
        self.assertEqual(Path(out), self.model_dir.resolve())

    def test_sha_mismatch_in_model_dir_is_not_used(self):
        self.put(self.model_dir, "toy/model.onnx", b"tampered")
        self.put(self.model_dir, "toy/test_data_set_0/output_0.pb", REFERENCE_BYTES)
        code, out, err = self.run_fetch("--offline")
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        self.assertIn("does not match the manifest's sha256", err)
        self.assertIn("toy/model.onnx", err)

    def test_sha_mismatch_of_download_is_rejected(self):
        self.put(self.upstream, "model.onnx", b"upstream changed under us")
        code, out, err = self.run_fetch("toy/model.onnx")
        self.assertEqual(code, 1)
        self.assertIn("expected " + sha(MODEL_BYTES), err)
        self.assertFalse((self.cache_dir / "toy/model.onnx").exists())
        self.assertEqual(list((self.cache_dir / "toy").iterdir()), [], "no partial file left")

    def test_missing_offline_says_what_and_where(self):
        code, out, err = self.run_fetch("--offline")
        self.assertEqual(code, 1)
        self.assertIn("2 of 2 files missing", err)
        self.assertIn("toy/model.onnx", err)
        self.assertIn(str(self.cache_dir.resolve() / "toy/model.onnx"), err)
        self.assertIn("only available from a local model directory", err)
        self.assertIn("toy/test_data_set_0/output_0.pb", err)

    def test_download_fills_cache_and_assembles_one_dir(self):
        # The model comes from "upstream", the reference data from the local model dir: the
        # cache must end up holding both.
        self.put(self.model_dir, "toy/test_data_set_0/output_0.pb", REFERENCE_BYTES)
        code, out, err = self.run_fetch()
        self.assertEqual(code, 0, err)
        self.assertEqual(Path(out), self.cache_dir.resolve())
        self.assertEqual((Path(out) / "toy/model.onnx").read_bytes(), MODEL_BYTES)
        self.assertEqual((Path(out) / "toy/test_data_set_0/output_0.pb").read_bytes(),
                         REFERENCE_BYTES)
        # Second run: nothing to download even with upstream gone.
        (self.upstream / "model.onnx").unlink()
        code, out2, err = self.run_fetch("--offline")
        self.assertEqual((code, out2), (0, out), err)

    def test_corrupt_cache_file_is_replaced(self):
        self.put(self.cache_dir, "toy/model.onnx", b"truncated")
        code, out, err = self.run_fetch("toy/model.onnx", model_dir=False)
        self.assertEqual(code, 0, err)
        self.assertEqual((self.cache_dir / "toy/model.onnx").read_bytes(), MODEL_BYTES)

    def test_upstream_only_skips_reference_data(self):
        code, out, err = self.run_fetch("--upstream-only", model_dir=False)
        self.assertEqual(code, 0, err)
        self.assertEqual(Path(out), self.cache_dir.resolve())

    def test_unknown_name_is_an_error(self):
        code, out, err = self.run_fetch("no_such_model")
        self.assertEqual(code, 2)
        self.assertIn("no_such_model", err)

    def test_manifest_path_cannot_escape(self):
        manifest = {"schema": 1, "groups": [{"name": "evil", "files": [
            {"path": "../outside", "sha256": sha(b"x"), "url": "file:///dev/null"}]}]}
        self.manifest.write_text(json.dumps(manifest))
        code, out, err = self.run_fetch()
        self.assertEqual(code, 2)
        self.assertIn("escapes", err)

    def test_real_manifest_is_well_formed(self):
        files = fetch_models.load_manifest(fetch_models.DEFAULT_MANIFEST)
        paths = [f["path"] for f in files]
        self.assertEqual(len(paths), len(set(paths)))
        for f in files:
            self.assertRegex(f["sha256"], "^[0-9a-f]{64}$")
            if "url" in f:
                self.assertRegex(f["url"],
                                 "^https://raw.githubusercontent.com/[^/]+/[^/]+/[0-9a-f]{40}/")
        for name in ["yolox_nano/yolox_nano.onnx", "ultraface_rfb320/version-RFB-320.onnx",
                     "fastestdet/FastestDet.onnx", "mnist_cntk/mnist.onnx", "images/dog.jpg",
                     "images/faces_1.jpg"]:
            self.assertIn(name, paths)

    def test_real_manifest_matches_local_model_dir(self):
        local = REAL_MODEL_DIR
        if not local or not Path(local).is_dir():
            self.skipTest("ACCEL_MODEL_DIR not set")
        for f in fetch_models.load_manifest(fetch_models.DEFAULT_MANIFEST):
            self.assertEqual(fetch_models.sha256_of(Path(local) / f["path"]), f["sha256"],
                             f["path"])


if __name__ == "__main__":
    unittest.main()
