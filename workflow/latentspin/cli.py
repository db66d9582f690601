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

import numpy as np

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
    if args.out:
        _write_json(summary, args.out)
    print(json.dumps(summary, indent=2))


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
    _save_figure(fig, args.out, args.dpi)


TRAIN_SECTIONS = ("seed", "lattice", "vae.architecture", "vae.training")
DIAGNOSE_SECTIONS = ("seed", "lattice", "hamiltonian", "vae.diagnostics")


def cmd_train_vae(args):
    from .train import train_beta

    config = _config(args, TRAIN_SECTIONS)
    train_beta(config, args.beta, args.train, args.valid, args.out_dir, device=args.device, threads=args.threads)


def _write_json(obj, out):
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    tmp.replace(out)


def _save_figure(fig, out, dpi=120):
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=dpi)
    tmp.replace(out)


def cmd_diagnose_vae(args):
    import zlib

    from .diagnostics import diagnose
    from .physics import Hamiltonian
    from .train import load_spins, resolve_device
    from .vae import load_model

    config = _config(args, DIAGNOSE_SECTIONS)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    model = load_model(args.model, device)
    valid_x, _ = load_spins(args.valid, device)
    d = config["vae"]["diagnostics"]
    result = diagnose(model, valid_x, Hamiltonian.from_config(config["hamiltonian"]), beta=model.extra["beta"],
                      prior_samples=d["prior_samples"], active_threshold=d["active_threshold"],
                      seed=zlib.crc32(f"{config['seed']}-prior".encode()))
    _write_json(result, args.out)


def cmd_vae_report(args):
    import pandas as pd

    from .diagnostics import figure, table

    results = [json.loads(Path(p).read_text()) for p in args.diagnostics]
    histories = {r["beta"]: pd.read_csv(h) for r, h in zip(results, args.histories)}
    t = table(results)
    tmp = Path(args.table).with_suffix(".tmp")
    t.to_csv(tmp, index=False)
    tmp.replace(args.table)
    print(t.to_string(index=False))
    _save_figure(figure(results, histories, args.chosen_beta), args.figure)


def cmd_plot_vae(args):
    import zlib

    from .data import open_dataset
    from .diagnostics import prior_samples_figure, reconstruction_figure
    from .physics import Hamiltonian
    from .vae import load_model

    model = load_model(args.model)
    ds = open_dataset(args.valid)
    idx = np.linspace(0, ds.sizes["sample"] - 1, args.n).round().astype(int)
    import torch

    x = torch.from_numpy(ds["spins"].isel(sample=idx).values)
    beta = model.extra["beta"]
    _save_figure(reconstruction_figure(model, x, f"validation samples and reconstructions, β = {beta:g}"),
                 args.reconstruction)
    ham = Hamiltonian(J=ds.attrs["J"], D=ds.attrs["D"], dmi=ds.attrs["dmi"])
    from .diagnostics import spin_physics

    data_peak = float(spin_physics(torch.from_numpy(ds["spins"][: args.n * 10].values), ham)["max_local_energy"].max())
    _save_figure(prior_samples_figure(model, ham, args.n, zlib.crc32(b"figure-prior"), data_peak), args.samples)


def cmd_bench(args):
    from .bench import bench_anneal, format_table, machine_line

    if args.stage == "anneal":
        rows = bench_anneal(L=args.L, sweeps=args.sweeps, min_seconds=args.seconds, threads=args.threads)
        print(f"# latentspin {__version__} anneal benchmark, {machine_line()}")
        print(format_table(rows))
    else:
        from .bench import bench_vae, format_vae_table

        rows = bench_vae(L=args.L, batch_size=args.batch, min_seconds=args.seconds, device=args.device)
        print(f"# latentspin {__version__} VAE benchmark, {machine_line()}")
        print(format_vae_table(rows))


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

    q = sub.add_parser("train-vae", help="train the VAE of one beta (resumes from its checkpoint)")
    add_config(q)
    q.add_argument("--beta", type=float, required=True)
    q.add_argument("--train", required=True, help="training split (Zarr)")
    q.add_argument("--valid", required=True, help="validation split (Zarr)")
    q.add_argument("--out-dir", required=True, help="writes model.pt, history.csv (and checkpoint.pt while running)")
    q.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    q.add_argument("--threads", type=int, default=None)
    q.set_defaults(func=cmd_train_vae)

    q = sub.add_parser("diagnose-vae", help="posterior-collapse and X_VAE diagnostics of one model (JSON)")
    add_config(q)
    q.add_argument("--model", required=True)
    q.add_argument("--valid", required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    q.add_argument("--threads", type=int, default=None)
    q.set_defaults(func=cmd_diagnose_vae)

    q = sub.add_parser("vae-report", help="table and figure of the diagnostics of all betas")
    q.add_argument("--diagnostics", nargs="+", required=True)
    q.add_argument("--histories", nargs="+", required=True, help="history.csv of each model, same order")
    q.add_argument("--chosen-beta", type=float, required=True)
    q.add_argument("--table", required=True)
    q.add_argument("--figure", required=True)
    q.set_defaults(func=cmd_vae_report)

    q = sub.add_parser("plot-vae", help="reconstructions and decoded prior samples of one model")
    q.add_argument("--model", required=True)
    q.add_argument("--valid", required=True)
    q.add_argument("--reconstruction", required=True, help="PNG: inputs beside outputs")
    q.add_argument("--samples", required=True, help="PNG: X_VAE and local energy maps")
    q.add_argument("--n", type=int, default=6)
    q.set_defaults(func=cmd_plot_vae)

    q = sub.add_parser("bench", help="throughput benchmark of a stage")
    q.add_argument("stage", choices=["anneal", "vae"])
    q.add_argument("--batch", type=int, default=100, help="vae: batch size")
    q.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="vae: device")
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
