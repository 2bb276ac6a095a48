#!/usr/bin/env python3
"""Finds or downloads the model files listed in models/manifest.json.

For every requested file, in this order:
  1. $ACCEL_MODEL_DIR/<path> (or --model-dir), if its sha256 matches the manifest;
  2. the user cache, ${XDG_CACHE_HOME:-~/.cache}/libaccel/models/<path>, if its sha256 matches;
  3. a download from the file's pinned upstream URL into the cache (sha256 verified before an
     atomic rename, so the cache never holds a partial or wrong file).
Files without a URL (reference test data made for this project) come only from a local model
directory. When a file cannot be found, every missing file is listed with where to put it and
the exit code is 1.

On success the model directory to use is printed on stdout: the local model directory when it
holds every requested file, else the cache directory, into which the files found in the local
model directory are symlinked so that one directory holds them all. Messages go to stderr.

Standard library only: this runs before any virtual environment exists.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MANIFEST = REPO_ROOT / "models" / "manifest.json"
DOWNLOAD_TIMEOUT_S = 60


def default_cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "libaccel" / "models"


def sha256_of(path):
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def load_manifest(path):
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    files = []
    for group in manifest["groups"]:
        for entry in group["files"]:
            rel = entry["path"]
            # The manifest decides where files are written: keep them inside the model dir.
            if os.path.isabs(rel) or ".." in Path(rel).parts:
                raise ValueError(f"manifest path escapes the model directory: {rel}")
            files.append(dict(entry, group=group["name"]))
    return files


def select(files, names):
    """Files of the named groups or with the named paths; all files when names is empty."""
    if not names:
        return files
    known = {f["group"] for f in files} | {f["path"] for f in files}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown model or file: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return [f for f in files if f["group"] in names or f["path"] in names]


def matches(path, entry):
    return path.is_file() and sha256_of(path) == entry["sha256"]


def download(entry, dest):
    """Downloads entry["url"] to dest. Returns None on success, else the reason."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(entry["url"], timeout=DOWNLOAD_TIMEOUT_S) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != entry["sha256"]:
            return f"downloaded file has sha256 {digest.hexdigest()}, expected {entry['sha256']}"
        os.replace(tmp, dest)
        return None
    except OSError as e:  # URLError and HTTPError are OSErrors
        return f"download failed: {e}"
    finally:
        tmp.unlink(missing_ok=True)


def place_in_cache(source, dest):
    """Makes dest (in the cache) refer to the verified file source."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".link")
    tmp.unlink(missing_ok=True)
    try:
        tmp.symlink_to(source.resolve())
    except OSError:
        # No symlinks here (some filesystems): fall back to a copy.
        tmp.write_bytes(source.read_bytes())
    os.replace(tmp, dest)


def resolve(files, model_dir, cache_dir, offline, log):
    """Returns (output_dir, problems). Each problem is a message about one missing file."""
    found_local, found_cache, problems = [], [], []
    for entry in files:
        rel = entry["path"]
        local = model_dir / rel if model_dir else None
        if local and matches(local, entry):
            found_local.append(entry)
            continue
        if local and local.exists():
            log(f"warning: {local} does not match the manifest's sha256; not using it")
        cached = cache_dir / rel
        if matches(cached, entry):
            found_cache.append(entry)
            continue
        if "url" not in entry:
            problems.append(f"{rel}: only available from a local model directory (no upstream)")
            continue
        if offline:
            reason = "offline mode"
        else:
            log(f"downloading {rel} from {entry['url']}")
            reason = download(entry, cached)
            if reason is None:
                found_cache.append(entry)
                continue
        problems.append(f"{rel}: {reason}\n      get {entry['url']}\n      and save it as {cached}")

    if problems:
        return None, problems
    if model_dir and not found_cache:
        return model_dir, []
    for entry in found_local:
        if not matches(cache_dir / entry["path"], entry):
            place_in_cache(model_dir / entry["path"], cache_dir / entry["path"])
    return cache_dir, []


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Find or download the models and images listed in models/manifest.json "
        "and print the model directory that holds them.")
    parser.add_argument("names", nargs="*",
                        help="model groups (yolox_nano, images, ...) or file paths "
                        "(images/dog.jpg); default: everything")
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--model-dir", type=Path,
                        default=os.environ.get("ACCEL_MODEL_DIR") or None,
                        help="local model directory to prefer (default: $ACCEL_MODEL_DIR)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="download cache (default: ${XDG_CACHE_HOME:-~/.cache}/libaccel/models)")
    parser.add_argument("--offline", action="store_true", help="never download")
    parser.add_argument("--upstream-only", action="store_true",
                        help="skip files that have no upstream URL (reference test data)")
    parser.add_argument("--print-dir", action="store_true",
                        help="print only the model directory (for scripts)")
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    args = parser.parse_args(argv)

    def log(message):
        if not args.quiet:
            print(message, file=sys.stderr)

    try:
        files = select(load_manifest(args.manifest), args.names)
    except (OSError, ValueError, KeyError) as e:
        print(f"fetch_models: bad manifest or selection: {e}", file=sys.stderr)
        return 2
    if args.upstream_only:
        files = [f for f in files if "url" in f]
    model_dir = args.model_dir.resolve() if args.model_dir else None
    if model_dir and not model_dir.is_dir():
        log(f"warning: model directory {model_dir} does not exist")
        model_dir = None

    out_dir, problems = resolve(files, model_dir, args.cache_dir.resolve(), args.offline, log)
    if problems:
        print(f"fetch_models: {len(problems)} of {len(files)} files missing:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        print("Put missing files into a model directory with the manifest's layout (a copy of "
              "the project's shared models folder has them all) and point ACCEL_MODEL_DIR at "
              f"it, or into the cache {args.cache_dir}.", file=sys.stderr)
        return 1
    if not args.print_dir:
        log(f"{len(files)} files verified in {out_dir}")
    print(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
