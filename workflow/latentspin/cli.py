"""Command line: every stage of the workflow can run without Snakemake.

The rules call these commands (``snakemake -p`` prints them), so a printed command can be rerun
by hand. ``--config`` takes YAML files and inline JSON mappings, merged left to right, e.g.
``latentspin anneal --config config.yaml --config presets/smoke.yaml --split train --shard 0
--out shard.zarr``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from . import config as cfg


def _config(args, sections):
    return cfg.load(args.config, sections)


def cmd_anneal(args):
    from .data import ANNEAL_SECTIONS, anneal_shard, check_split_name

    check_split_name(args.split)
    config = _config(args, ANNEAL_SECTIONS)
    anneal_shard(config, args.split, args.shard, args.out, threads=args.threads)


def cmd_assemble(args):
    from .data import assemble

    assemble(args.shards, args.out)


def cmd_summarize(args):
    from .data import labyrinth_checks, summarize

    summary = summarize(args.dataset, max_wavelength_samples=args.wavelength_samples)
    summary["labyrinth_checks"] = labyrinth_checks(summary)
    text = json.dumps(summary, indent=2)
    if args.out:
        tmp = Path(args.out).with_suffix(".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(args.out)
    print(text)


def cmd_plot_samples(args):
    import numpy as np

    from .data import open_dataset
    from .plotting import sample_grid

    ds = open_dataset(args.dataset)
    n = min(args.n, ds.sizes["sample"])
    idx = np.linspace(0, ds.sizes["sample"] - 1, n).round().astype(int)
    sub = ds.isel(sample=idx)
    titles = [f"#{k}  ε={e:.4f}  W={w:+.0f}" for k, e, w in
              zip(sub["sample"].values, sub["energy"].values, sub["W"].values)]
    fig = sample_grid(sub["spins"].values, titles, ncols=args.ncols)
    fig.suptitle(f"{Path(args.dataset).name}: L={ds.attrs['L']}, J={ds.attrs['J']}, D={ds.attrs['D']}, "
                 f"{ds.attrs['dmi']} DMI", fontsize=9)
    fig.tight_layout()
    out = Path(args.out)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=args.dpi)
    tmp.replace(out)


def cmd_bench(args):
    from .bench import bench_anneal, format_table, machine_line

    if args.stage != "anneal":
        raise SystemExit(f"unknown benchmark stage {args.stage!r}; available: anneal")
    rows = bench_anneal(L=args.L, sweeps=args.sweeps, min_seconds=args.seconds, threads=args.threads)
    print(f"# latentspin {__version__} anneal benchmark, {machine_line()}")
    print(format_table(rows))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latentspin", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)

    def add_config(q):
        q.add_argument("--config", action="append", required=True,
                       help="YAML file or inline JSON mapping; repeat to merge (later wins)")

    q = sub.add_parser("anneal", help="anneal one shard of a split into a Zarr store")
    add_config(q)
    q.add_argument("--split", required=True)
    q.add_argument("--shard", type=int, required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--threads", type=int, default=None, help="default: all cores")
    q.set_defaults(func=cmd_anneal)

    q = sub.add_parser("assemble", help="concatenate shard stores into one split store")
    q.add_argument("--out", required=True)
    q.add_argument("shards", nargs="+")
    q.set_defaults(func=cmd_assemble)

    q = sub.add_parser("summarize", help="statistics of a split against the expected labyrinth physics")
    q.add_argument("dataset")
    q.add_argument("--out", help="write the JSON here too")
    q.add_argument("--wavelength-samples", type=int, default=256)
    q.set_defaults(func=cmd_summarize)

    q = sub.add_parser("plot-samples", help="grid of configurations of a split (paper's colour convention)")
    q.add_argument("dataset")
    q.add_argument("--out", required=True)
    q.add_argument("--n", type=int, default=12)
    q.add_argument("--ncols", type=int, default=4)
    q.add_argument("--dpi", type=int, default=120)
    q.set_defaults(func=cmd_plot_samples)

    q = sub.add_parser("bench", help="throughput benchmark of a stage")
    q.add_argument("stage", choices=["anneal"])
    q.add_argument("--L", type=int, default=128)
    q.add_argument("--sweeps", type=int, default=20)
    q.add_argument("--seconds", type=float, default=2.0, help="minimum timing per measurement")
    q.add_argument("--threads", type=int, action="append", help="thread counts (default: 1 and all)")
    q.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except cfg.ConfigError as e:
        print(f"latentspin: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
