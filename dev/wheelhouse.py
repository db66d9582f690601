"""Wheels for a machine without internet: latentspin's dependencies, pinned to the versions in
this environment, built for another Python and Linux x86-64 (e.g. a GPU node that has torch but
no package index).

    python dev/wheelhouse.py OUT --python 3.12 [--have FILE]

`--have FILE` lists distributions the target already has (one per line, `name` or `name==ver`,
e.g. the target's `pip list --format freeze`); they are left out, as is torch and its CUDA
libraries unless named with --include. On the target:

    pip install --no-index --no-deps --target /tmp/site OUT/*.whl
    export PYTHONPATH=/tmp/site:$PWD/workflow

Binary wheels come from the package index for the target's Python and manylinux; a package
published only as a source distribution (pure Python, e.g. connection_pool) is built here into a
py3-none-any wheel.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

MANYLINUX = ["manylinux_2_5_x86_64", "manylinux1_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64",
             "manylinux_2_24_x86_64", "manylinux_2_27_x86_64", "manylinux_2_28_x86_64", "manylinux_2_31_x86_64",
             "manylinux_2_34_x86_64"]
ALWAYS_LEFT_OUT = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*|pip|setuptools|wheel)$")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(root: str, python: str) -> dict[str, str]:
    """Every distribution `root` needs at `python`, transitively, with its version here."""
    env = {"extra": "", "python_version": python, "python_full_version": f"{python}.0"}
    found, todo = {}, [root]
    while todo:
        dist = md.distribution(todo.pop())
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            name = norm(req.name)
            if name in found:
                continue
            try:
                found[name] = md.version(name)
            except md.PackageNotFoundError:
                raise SystemExit(f"{name} (needed by {dist.metadata['Name']}) is not installed here: "
                                 "install latentspin with its dependencies first") from None
            todo.append(name)
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--python", required=True, help="the target's Python, e.g. 3.12")
    p.add_argument("--have", type=Path, help="distributions the target already has, one per line")
    p.add_argument("--include", nargs="*", default=[], help="keep these even if the target has them")
    p.add_argument("--root", default="latentspin", help="the distribution whose dependencies to fetch")
    args = p.parse_args(argv)
    if not re.fullmatch(r"3\.\d+", args.python):
        p.error(f"--python must look like 3.12, got {args.python!r}")
    have = set()
    if args.have:
        have = {norm(re.split(r"[=<>~ ]", line.strip(), maxsplit=1)[0])
                for line in args.have.read_text().splitlines() if line.strip() and not line.startswith("#")}
    keep = {norm(n) for n in args.include}
    wanted = {n: v for n, v in requirements(args.root, args.python).items()
              if n in keep or not (n in have or ALWAYS_LEFT_OUT.match(n))}
    args.out.mkdir(parents=True, exist_ok=True)
    platforms = [a for plat in MANYLINUX for a in ("--platform", plat)]
    built = []
    for name, version in sorted(wanted.items()):
        spec = f"{name}=={version}"
        binary = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                                 "--python-version", args.python, "--implementation", "cp", *platforms,
                                 "-d", str(args.out), spec], capture_output=True, text=True)
        if binary.returncode != 0:
            source = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(args.out),
                                     spec], capture_output=True, text=True)
            if source.returncode != 0:
                raise SystemExit(f"no wheel for {spec}:\n{binary.stderr[-1000:]}\n{source.stderr[-1000:]}")
            built.append(spec)
    wheels = sorted(args.out.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels) / 2**20
    print(f"{len(wanted)} distributions, {len(wheels)} wheels, {size:.0f} MiB in {args.out}"
          + (f"; built from source here: {', '.join(built)}" if built else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
