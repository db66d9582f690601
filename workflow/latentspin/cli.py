"""Command line: every stage of the workflow can run without Snakemake.

The rules call these commands (``snakemake -p`` prints them), so a printed command can be rerun
by hand. ``--config`` takes YAML files and inline JSON mappings, merged left to right, e.g.
``latentspin anneal --config config.yaml --config presets/smoke.yaml --split train --shard 0
--out shard.zarr``. Heavy imports happen inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from . import config as cfg



def _set_torch_threads(threads: int | None):
    if threads:
        import torch

        torch.set_num_threads(threads)


def _evenly_spaced(n_total: int, n: int):
    import numpy as np

    return np.linspace(0, n_total - 1, min(n, n_total)).round().astype(int)


# --- annealing -------------------------------------------------------------------------------


def cmd_anneal(args):
    from .annealing import anneal_shard

    config = cfg.load(args.config, cfg.ANNEAL_SECTIONS)
    anneal_shard(config, args.split, args.shard, args.out, threads=args.threads)


def cmd_assemble(args):
    from .data import assemble

    assemble(args.shards, args.out)


def cmd_summarize(args):
    from .annealing import labyrinth_checks, summarize
    from .outputs import write_json

    summary = summarize(args.dataset, max_wavelength_samples=args.wavelength_samples)
    summary["labyrinth_checks"] = labyrinth_checks(summary)
    if args.out:
        write_json(summary, args.out)
    print(json.dumps(summary, indent=2))


def cmd_plot_samples(args):
    from .data import open_dataset
    from .outputs import save_figure
    from .plotting import sample_grid

    ds = open_dataset(args.dataset)
    sub = ds.isel(sample=_evenly_spaced(ds.sizes["sample"], args.n))
    titles = [f"#{k}  ε={e:.4f}  W={w:+.0f}" for k, e, w in
              zip(sub["sample"].values, sub["energy"].values, sub["W"].values)]
    fig = sample_grid(sub["spins"].values, titles, ncols=args.ncols)
    fig.suptitle(f"{Path(args.dataset).name}: L={ds.attrs['L']}, J={ds.attrs['J']}, D={ds.attrs['D']}, "
                 f"{ds.attrs['dmi']} DMI", fontsize=9)
    fig.tight_layout()
    save_figure(fig, args.out, args.dpi)


# --- VAE -------------------------------------------------------------------------------------


def cmd_train_vae(args):
    from .train import train_beta

    config = cfg.load(args.config, cfg.TRAIN_SECTIONS)
    train_beta(config, args.beta, args.train, args.valid, args.out_dir, device=args.device, threads=args.threads)


def cmd_vae_report(args):
    """Diagnose every model and draw them together (cheap beside training: one job)."""
    import pandas as pd

    from .diagnostics import data_reference, diagnose, figure, table
    from .outputs import derive_seed, save_figure, write_csv, write_json
    from .physics import Hamiltonian
    from .train import load_spins, resolve_device
    from .vae import load_model

    if len(args.models) != len(args.histories):
        raise SystemExit("--models and --histories need one file per model each, in the same order")
    config = cfg.load(args.config, cfg.DIAGNOSE_SECTIONS)
    _set_torch_threads(args.threads)
    device = resolve_device(args.device)
    valid_x, _ = load_spins(args.valid, device)
    ham = Hamiltonian.from_config(config["hamiltonian"])
    d = config["vae"]["diagnostics"]
    data = data_reference(valid_x, ham)  # the same for every model
    results, histories = [], {}
    for model_path, history_path in zip(args.models, args.histories):
        model = load_model(model_path, device)
        r = diagnose(model, valid_x, ham, beta=model.extra["beta"], prior_samples=d["prior_samples"],
                     active_threshold=d["active_threshold"], seed=derive_seed(config["seed"], "vae-prior-samples"),
                     data=data)
        results.append(r)
        histories[r["beta"]] = pd.read_csv(history_path)
    t = table(results)
    write_json(results, args.json)
    write_csv(t, args.table)
    print(t.to_string(index=False))
    save_figure(figure(results, histories, args.chosen_beta), args.figure)


def cmd_plot_vae(args):
    import torch

    from .data import open_dataset
    from .diagnostics import prior_samples_figure, reconstruction_figure, spin_physics
    from .outputs import derive_seed, save_figure
    from .physics import Hamiltonian
    from .vae import load_model

    model = load_model(args.model)
    ds = open_dataset(args.valid)
    x = torch.from_numpy(ds["spins"].isel(sample=_evenly_spaced(ds.sizes["sample"], args.n)).values)
    beta = model.extra["beta"]
    save_figure(reconstruction_figure(model, x, f"validation samples and reconstructions, β = {beta:g}"),
                args.reconstruction)
    ham = Hamiltonian(J=ds.attrs["J"], D=ds.attrs["D"], dmi=ds.attrs["dmi"])
    reference = torch.from_numpy(ds["spins"][:200].values)
    data_peak = float(spin_physics(reference, ham)["max_local_energy"].max())
    save_figure(prior_samples_figure(model, ham, args.n, derive_seed(0, "figure-prior-samples"), data_peak),
                args.samples)


# --- exploration -----------------------------------------------------------------------------


def cmd_explore(args):
    from .data import write_zarr
    from .exploration import run_pair
    from .outputs import write_json
    from .train import resolve_device
    from .vae import load_model

    config = cfg.load(args.config, cfg.explore_sections(args.algorithm))
    _set_torch_threads(args.threads)
    device = resolve_device(args.device)
    ds, summary = run_pair(config, args.algorithm, args.objective, load_model(args.model), device=device,
                           threads=args.threads)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_zarr(ds, out / "trajectory.zarr")
    write_json(summary, out / "summary.json")


def cmd_explore_metrics(args):
    from .outputs import write_csv
    from .tables import metrics_table

    table = metrics_table([json.loads(Path(p).read_text()) for p in args.summaries])
    write_csv(table, args.out)
    print(table.to_string(index=False))


# --- benchmarks ------------------------------------------------------------------------------


def cmd_bench(args):
    from . import bench

    if args.stage == "anneal":
        rows = bench.bench_anneal(L=args.L, sweeps=args.sweeps, min_seconds=args.seconds, threads=args.threads)
        table = bench.format_table(rows, bench.ANNEAL_COLUMNS)
    elif args.stage == "vae":
        _set_torch_threads(args.threads[0] if args.threads else None)
        rows = bench.bench_vae(L=args.L, batch_size=args.batch, min_seconds=args.seconds, device=args.device)
        table = bench.format_table(rows, bench.VAE_COLUMNS)
    else:
        _set_torch_threads(args.threads[0] if args.threads else None)
        rows = bench.bench_explore(L=args.L, device=args.device, min_seconds=args.seconds, population=args.batch)
        table = bench.format_table(rows, bench.EXPLORE_COLUMNS)
        table += "\n(stochastic: hours per 10,000 steps; the paper's runs take several such phases)"
    print(f"# latentspin {__version__} {args.stage} benchmark, {bench.machine_line()}")
    print(table)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="latentspin", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)

    def command(name, func, help, config=False):
        q = sub.add_parser(name, help=help, description=help)
        q.set_defaults(func=func)
        if config:
            q.add_argument("--config", action="append", required=True,
                           help="YAML file or inline JSON mapping; repeat to merge (later wins)")
        return q

    def device_and_threads(q):
        q.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
        q.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")

    q = command("anneal", cmd_anneal, "anneal one shard of a split into a Zarr store", config=True)
    q.add_argument("--split", required=True)
    q.add_argument("--shard", type=int, required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--threads", type=int, default=None, help="default: all cores")

    q = command("assemble", cmd_assemble, "concatenate shard stores into one split store")
    q.add_argument("--out", required=True)
    q.add_argument("shards", nargs="+")

    q = command("summarize", cmd_summarize, "statistics of a split against the expected labyrinth physics")
    q.add_argument("dataset")
    q.add_argument("--out", help="write the JSON here too")
    q.add_argument("--wavelength-samples", type=int, default=256)

    q = command("plot-samples", cmd_plot_samples, "grid of configurations of a split (paper's colour convention)")
    q.add_argument("dataset")
    q.add_argument("--out", required=True)
    q.add_argument("--n", type=int, default=12)
    q.add_argument("--ncols", type=int, default=4)
    q.add_argument("--dpi", type=int, default=120)

    q = command("train-vae", cmd_train_vae, "train the VAE of one beta (resumes from its checkpoint)", config=True)
    q.add_argument("--beta", type=float, required=True)
    q.add_argument("--train", required=True, help="training split (Zarr)")
    q.add_argument("--valid", required=True, help="validation split (Zarr)")
    q.add_argument("--out-dir", required=True, help="writes model.pt, history.csv (and checkpoint.pt while running)")
    device_and_threads(q)

    q = command("vae-report", cmd_vae_report,
                "posterior-collapse and X_VAE diagnostics of every model: JSON, table and figure", config=True)
    q.add_argument("--models", nargs="+", required=True)
    q.add_argument("--histories", nargs="+", required=True, help="history.csv of each model, same order")
    q.add_argument("--valid", required=True)
    q.add_argument("--chosen-beta", type=float, required=True)
    q.add_argument("--json", required=True, help="all diagnostics, with per-dimension arrays")
    q.add_argument("--table", required=True)
    q.add_argument("--figure", required=True)
    device_and_threads(q)

    q = command("plot-vae", cmd_plot_vae, "reconstructions and decoded prior samples of one model")
    q.add_argument("--model", required=True)
    q.add_argument("--valid", required=True)
    q.add_argument("--reconstruction", required=True, help="PNG: inputs beside outputs")
    q.add_argument("--samples", required=True, help="PNG: X_VAE and local energy maps")
    q.add_argument("--n", type=int, default=6)

    q = command("explore", cmd_explore, "run one latent-space explorer on one objective", config=True)
    q.add_argument("--algorithm", required=True, choices=["single_code", "genetic", "stochastic"])
    q.add_argument("--objective", required=True, choices=["energy", "W", "Mz", "C", "C_BC"])
    q.add_argument("--model", required=True, help="a model.pt of train-vae")
    q.add_argument("--out-dir", required=True, help="writes trajectory.zarr and summary.json")
    device_and_threads(q)

    q = command("explore-metrics", cmd_explore_metrics, "collect the summaries of explored pairs into one table")
    q.add_argument("--out", required=True)
    q.add_argument("summaries", nargs="+")

    q = command("bench", cmd_bench, "throughput benchmark of a stage")
    q.add_argument("stage", choices=["anneal", "vae", "explore"])
    q.add_argument("--L", type=int, default=128)
    q.add_argument("--sweeps", type=int, default=20, help="anneal: sweeps per timed run")
    q.add_argument("--batch", type=int, default=100, help="vae, explore: batch size / population")
    q.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="vae, explore: device")
    q.add_argument("--seconds", type=float, default=2.0, help="minimum timing per measurement")
    q.add_argument("--threads", type=int, action="append", help="thread counts (anneal default: 1 and all)")
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
