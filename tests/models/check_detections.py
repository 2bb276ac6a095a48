#!/usr/bin/env python3
"""Runs the detect example on a real model and checks its decoded result against expected.json.

yolox_nano / fastestdet on images/dog.jpg: every label of --require must be detected, and
every detected label must be one of expected.json's decoded.detections. (expected.json's yolox
list also has a low-score cat: it scores 0.38 on the stored input but near the 0.3 threshold
with other resize filters, so it may appear, not must.) ultraface_rfb320 on images/faces_1.jpg:
the number of faces must equal decoded.faces. Every detection needs a score in (0, 1] and an
ordered box.
"""

import argparse
import json
import math
import os
import subprocess
import sys

IMAGES = {"yolox_nano": "dog.jpg", "fastestdet": "dog.jpg", "ultraface_rfb320": "faces_1.jpg"}


def well_formed(det):
    box = det.get("box")
    score = det.get("score")
    return (isinstance(det.get("label"), str) and isinstance(score, (int, float)) and
            0.0 < score <= 1.0 and isinstance(box, list) and len(box) == 4 and
            all(isinstance(v, (int, float)) and math.isfinite(v) for v in box) and
            box[0] <= box[2] and box[1] <= box[3])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--detect", required=True, help="the detect example binary")
    parser.add_argument("--model", required=True, choices=sorted(IMAGES))
    parser.add_argument("--model-dir", required=True, help="folder holding <model>/ and images/")
    parser.add_argument("--require", default="",
                        help="comma-separated labels that must be detected (detectors)")
    args = parser.parse_args()

    with open(os.path.join(args.model_dir, args.model, "expected.json")) as f:
        decoded = json.load(f)["decoded"]
    image = os.path.join(args.model_dir, "images", IMAGES[args.model])
    command = [args.detect, "--model", args.model, "--model-dir", args.model_dir,
               "--image", image, "--json"]
    print(" ".join(command), flush=True)
    run = subprocess.run(command, capture_output=True, text=True)
    sys.stderr.write(run.stderr)
    if run.returncode != 0:
        sys.exit(f"detect failed with exit code {run.returncode}")
    try:
        detections = json.loads(run.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"detect --json did not print JSON ({e}): {run.stdout[:500]!r}")
    if not isinstance(detections, list) or not all(isinstance(d, dict) for d in detections):
        sys.exit("detect --json must print a list of objects")
    for det in detections:
        print(f"  {det}")
    bad = [d for d in detections if not well_formed(d)]
    if bad:
        sys.exit(f"malformed detections: {bad}")

    if "faces" in decoded:
        got, want = len(detections), decoded["faces"]
        print(f"{got} faces, expected {want}")
        ok = got == want
    else:
        labels = {d["label"] for d in detections}
        required = set(filter(None, args.require.split(",")))
        allowed = set(decoded["detections"])
        print(f"labels {sorted(labels)}; required {sorted(required)}, allowed {sorted(allowed)}")
        ok = required <= labels and labels <= allowed
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
