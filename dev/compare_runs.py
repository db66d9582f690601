"""Compare two workflow runs' results: are they the same numbers?

    python dev/compare_runs.py RESULTS_A RESULTS_B [--figures]

Every Zarr store (shards, splits, trajectories): each variable and coordinate bitwise (NaN equal
to NaN) and its attributes; every model file: each tensor of its state bitwise; every CSV and
JSON table: equal, apart from the columns and keys that time a run (``seconds``, ``*_per_s``) and
the ``path`` that names where it ran; with ``--figures``, every PNG's pixels. Prints one line per
difference and exits 1 if there is any, so that a change meant to move code without changing a
result (a refactoring) can be checked on the smoke preset:

    snakemake --cores 2 --configfile presets/smoke.yaml --directory /tmp/before   # on the old commit
    snakemake --cores 2 --configfile presets/smoke.yaml --directory /tmp/after    # on the new one
    python dev/compare_runs.py /tmp/before/results /tmp/after/results
"""

from __future__ import annotations

import argparse
import warnings
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TIMING = re.compile(r"(^|_)seconds$|_per_s$|^path$")


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def _drop_timing(obj):
    if isinstance(obj, dict):
        return {k: _drop_timing(v) for k, v in obj.items() if not TIMING.search(str(k))}
    if isinstance(obj, list):
        return [_drop_timing(v) for v in obj]
    return obj


def compare_store(a: Path, b: Path) -> list[str]:
    import xarray as xr

    with warnings.catch_warnings():  # Snakemake's timestamp file inside a directory output
        warnings.simplefilter("ignore")
        da, db = xr.open_zarr(a, consolidated=False), xr.open_zarr(b, consolidated=False)
    out = []
    names_a, names_b = set(da.variables), set(db.variables)
    if names_a != names_b:
        out.append(f"variables differ: only in A {sorted(names_a - names_b)}, only in B {sorted(names_b - names_a)}")
    for name in sorted(names_a & names_b):
        if not _same_array(da[name].values, db[name].values):
            out.append(f"variable {name} differs")
    attrs_a, attrs_b = _drop_timing(dict(da.attrs)), _drop_timing(dict(db.attrs))
    for key in sorted(attrs_a.keys() | attrs_b.keys()):
        if attrs_a.get(key) != attrs_b.get(key):
            out.append(f"attribute {key}: {attrs_a.get(key)!r} != {attrs_b.get(key)!r}")
    return out


def compare_model(a: Path, b: Path) -> list[str]:
    import torch

    sa, sb = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
    out = []

    def walk(x, y, where):
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(x.keys() | y.keys(), key=str):
                if k not in x or k not in y:
                    out.append(f"{where}{k}: in one file only")
                elif not TIMING.search(str(k)):
                    walk(x[k], y[k], f"{where}{k}.")
        elif isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if not _same_array(x.numpy(), y.numpy()):
                out.append(f"{where.rstrip('.')} differs")
        elif x != y:
            out.append(f"{where.rstrip('.')}: {x!r} != {y!r}")

    walk(sa, sb, "")
    return out


def compare_csv(a: Path, b: Path) -> list[str]:
    ta, tb = pd.read_csv(a), pd.read_csv(b)
    keep = [c for c in ta.columns if not TIMING.search(c)]
    if list(ta.columns) != list(tb.columns):
        return [f"columns differ: {list(ta.columns)} != {list(tb.columns)}"]
    try:
        pd.testing.assert_frame_equal(ta[keep], tb[keep], check_exact=True)
    except AssertionError as e:
        return [" ".join(str(e).split())[:300]]
    return []


def compare_json(a: Path, b: Path) -> list[str]:
    ja, jb = (_drop_timing(json.loads(p.read_text())) for p in (a, b))
    return [] if ja == jb else ["contents differ (apart from timings)"]


def compare_png(a: Path, b: Path) -> list[str]:
    import matplotlib.image as mpimg

    return [] if _same_array(mpimg.imread(a), mpimg.imread(b)) else ["pixels differ"]


def compare(root_a: Path, root_b: Path, figures: bool = False) -> list[str]:
    kinds = {".zarr": compare_store, ".pt": compare_model, ".csv": compare_csv, ".json": compare_json}
    if figures:
        kinds[".png"] = compare_png
    skip = ("logs", "benchmarks", ".snakemake")

    def items(root: Path) -> set[Path]:
        found = set()
        for p in root.rglob("*"):
            rel = p.relative_to(root)
            if any(part in skip for part in rel.parts) or any(part.endswith(".zarr") for part in rel.parts[:-1]):
                continue
            if p.suffix in kinds and (p.is_dir() == (p.suffix == ".zarr")):
                found.add(rel)
        return found

    a, b = items(root_a), items(root_b)
    problems = [f"{rel}: only in {root_a}" for rel in sorted(a - b)]
    problems += [f"{rel}: only in {root_b}" for rel in sorted(b - a)]
    for rel in sorted(a & b):
        problems += [f"{rel}: {msg}" for msg in kinds[rel.suffix](root_a / rel, root_b / rel)]
    print(f"compared {len(a & b)} outputs ({', '.join(sorted(kinds))})")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--figures", action="store_true", help="also compare every PNG's pixels")
    args = p.parse_args(argv)
    problems = compare(args.a, args.b, args.figures)
    for line in problems:
        print(line)
    print("the same" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
