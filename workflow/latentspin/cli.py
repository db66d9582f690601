"""Command line: every stage of the workflow can run without Snakemake.

The rules call these commands (``snakemake -p`` prints them), so a printed command can be rerun
by hand. ``--config`` takes YAML files and inline JSON mappings, merged left to right, e.g.
``latentspin anneal --config config.yaml --config presets/smoke.yaml --split train --shard 0
--out shard.zarr``. Heavy imports happen inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
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
    anneal_shard(config, args.split, args.shard, args.out, threads=args.threads, device=args.device)


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


CHECKPOINT_SECONDS_VARIABLE = "LATENTSPIN_CHECKPOINT_SECONDS"


def _checkpoint_seconds(args) -> dict:
    """--checkpoint-seconds, else the environment variable (which a Snakemake profile or a
    time-limited session can set without changing the rule's parameters), else the default."""
    value, source = args.checkpoint_seconds, "--checkpoint-seconds"
    if value is None and os.environ.get(CHECKPOINT_SECONDS_VARIABLE, "").strip():
        value, source = os.environ[CHECKPOINT_SECONDS_VARIABLE], CHECKPOINT_SECONDS_VARIABLE
    if value is None:
        return {}
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 0:
        raise cfg.ConfigError(f"{source} must be a number of seconds >= 0, got {value!r}")
    return {"checkpoint_seconds": seconds}


def _checkpoint_argument(q, what: str):
    q.add_argument("--checkpoint-seconds", default=None, metavar="S",
                   help=f"save the {what}'s state in OUT_DIR/checkpoint.pt every S seconds (default: "
                        f"${CHECKPOINT_SECONDS_VARIABLE}, else 300) and on SIGTERM or SIGINT, and resume from it "
                        "on a rerun; removed when the outputs are written")


def cmd_train_vae(args):
    from .checkpoints import Stopped
    from .train import train_beta

    config = cfg.load(args.config, cfg.TRAIN_SECTIONS)
    checkpoint_seconds = _checkpoint_seconds(args)
    try:
        train_beta(config, args.beta, args.train, args.valid, args.out_dir, device=args.device,
                   threads=args.threads, **checkpoint_seconds)
    except Stopped as e:  # no outputs: the job failed, and its rerun resumes from the checkpoint
        raise SystemExit(f"latentspin: training {e} in {Path(args.out_dir) / 'checkpoint.pt'}; "
                         "rerun to resume it") from None


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
    threshold = config["explore"]["nodal_threshold"]
    data = data_reference(valid_x, ham, threshold)  # the same for every model
    results, histories = [], {}
    for model_path, history_path in zip(args.models, args.histories):
        model = load_model(model_path, device)
        r = diagnose(model, valid_x, ham, beta=model.extra["beta"], prior_samples=d["prior_samples"],
                     active_threshold=d["active_threshold"], nodal_threshold=threshold,
                     seed=derive_seed(config["seed"], "vae-prior-samples"), data=data)
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
    from .explore import SearchStopped
    from .exploration import run_pair
    from .outputs import write_json
    from .train import resolve_device
    from .vae import load_model

    config = cfg.load(args.config, cfg.explore_sections(args.algorithm))
    checkpoint_seconds = _checkpoint_seconds(args)
    _set_torch_threads(args.threads)
    device = resolve_device(args.device)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint.pt"  # not an output: it outlives a stopped job, for the rerun
    try:
        ds, summary = run_pair(config, args.algorithm, args.objective, load_model(args.model), device=device,
                               threads=args.threads, checkpoint=checkpoint, **checkpoint_seconds)
    except SearchStopped as e:  # no outputs: the job failed, and its rerun resumes from the checkpoint
        raise SystemExit(f"latentspin: search {e} in {checkpoint}; rerun to resume it") from None
    write_zarr(ds, out / "trajectory.zarr")
    write_json(summary, out / "summary.json")
    checkpoint.unlink(missing_ok=True)  # done: a forced rerun searches afresh


def cmd_explore_metrics(args):
    from .outputs import write_csv
    from .tables import metrics_table

    table = metrics_table([json.loads(Path(p).read_text()) for p in args.summaries])
    write_csv(table, args.out)
    print(table.to_string(index=False))


# --- figures and claims ----------------------------------------------------------------------


def _runs(specs: list[str] | None) -> dict:
    """--run ALGORITHM/OBJECTIVE=PATH arguments as {(algorithm, objective): arrays of the store}."""
    from .data import load_arrays

    runs = {}
    for spec in specs or []:
        pair, sep, path = spec.partition("=")
        algorithm, slash, objective = pair.partition("/")
        if not (sep and slash) or algorithm not in cfg.ALGORITHMS or objective not in cfg.OBJECTIVES:
            raise SystemExit(f"--run {spec!r}: expected ALGORITHM/OBJECTIVE=PATH with an algorithm of "
                             f"{cfg.ALGORITHMS} and an objective of {cfg.OBJECTIVES}")
        runs[(algorithm, objective)] = load_arrays(path)
    return runs


def _x_in(path: str, n: int, variables=("energy", "W", "Mz")) -> dict:
    """The first n samples of the training data: i.i.d. annealed states, the paper's X_IN."""
    from .data import open_dataset

    ds = open_dataset(path)
    n = min(n, ds.sizes["sample"])
    return {v: ds[v][:n].values for v in variables}


def _need(runs: dict, pair: tuple[str, str], figure: str):
    if pair not in runs:
        raise SystemExit(f"figure {figure} needs --run {pair[0]}/{pair[1]}=PATH")
    return runs[pair]


def cmd_figure(args):
    from . import figures
    from .hamiltonian import Hamiltonian
    from .outputs import save_figure

    config = cfg.load(args.config, cfg.FIGURE_SECTIONS)
    name = args.name
    ham = Hamiltonian.from_config(config["hamiltonian"])
    threshold = config["explore"]["nodal_threshold"]
    runs = _runs(args.run)
    if name in ("fig1", "fig3", "fig5") and not args.train:
        raise SystemExit(f"figure {name} needs --train (the training data, X_IN)")
    if name == "fig1":
        from .diagnostics import decode_prior
        from .outputs import derive_seed
        from .vae import load_model

        if not args.model:
            raise SystemExit("figure fig1 needs --model")
        x_in = _x_in(args.train, 4, ("spins",))["spins"]
        x_vae = decode_prior(load_model(args.model), 4, derive_seed(0, "figure-1")).numpy()
        fig = figures.figure_1(x_in, x_vae, ham, threshold)
    elif name == "fig3":
        sc = _need(runs, ("single_code", "energy"), name)
        energies = {"$X_{IN}$": _x_in(args.train, config["figures"]["x_in"])["energy"],
                    "$X_{VAE}$": sc["initial_energy"], "$X'_{VAE}$": sc["final_energy"]}
        fig = figures.figure_3(sc["initial_spins"], sc["final_spins"], energies, ham, threshold)
    elif name == "fig4":
        fig = figures.figure_4(_genetic_runs(runs), config["explore"]["objectives"]["C"]["a"])
    elif name == "fig5":
        L = config["lattice"]["L"]
        b = config["explore"]["objectives"]["C_BC"]["boundary"]
        c_bc = runs.get(("stochastic", "C_BC"))
        s_bc = None if c_bc is None else c_bc["boundary_map"]  # the map that run used
        states = {o: {"spins": r["final_spins"][0], **{k: float(r[f"final_{k}"][0]) for k in
                                                      ("energy", "W", "Mz", "max_local_energy")}}
                  for (a, o), r in runs.items() if a == "stochastic"}
        mz_run = runs.get(("stochastic", "Mz"))
        optimized = None if mz_run is None else {
            "W": float(mz_run["final_W"][0]), "Mz": float(mz_run["final_Mz"][0]),
            "relaxed_W": float(mz_run["relaxed_W"][0]), "relaxed_Mz": float(mz_run["relaxed_Mz"][0])}
        x_in = _x_in(args.train, config["figures"]["x_in_w_mz"])
        fig = figures.figure_5(states, s_bc, (b["radius"] * L, b["width"]), x_in["W"], x_in["Mz"], optimized)
    elif name == "convergence":
        fig = figures.convergence_figure(runs)
    elif name == "paths":
        fig = figures.paths_figure(runs, threshold)
    elif name == "levels":
        fig = figures.levels_figure(runs)
    else:  # relaxation
        import pandas as pd

        if not args.metrics:
            raise SystemExit("figure relaxation needs --metrics")
        fig = figures.relaxation_figure(pd.read_csv(args.metrics))
    save_figure(fig, args.out, config["figures"]["dpi"])


def _genetic_runs(runs: dict) -> dict:
    """Fig. 4's inputs: each genetic run's snapshots, with the objective value of each (the best
    of its generation: the maximum, or the minimum when minimizing)."""
    out = {}
    for (algorithm, objective), r in runs.items():
        if algorithm != "genetic":
            continue
        best = r["value_max"] if r["maximize"] else r["value_min"]
        out[objective] = {"snapshot_spins": r["snapshot_spins"], "generations": r["snapshot"],
                          "values": best[r["snapshot"]],
                          **{k: r[k] for k in r if k.startswith(("initial_population_", "final_population_"))}}
    return out


def cmd_claims(args):
    import pandas as pd

    from .claims import Inputs, claims_table
    from .outputs import write_csv
    from .hamiltonian import Hamiltonian, lattice_ground_state

    config = cfg.load(args.config, cfg.CLAIMS_SECTIONS)
    ham = Hamiltonian.from_config(config["hamiltonian"])
    n = max(config["figures"]["x_in"], config["figures"]["x_in_w_mz"])
    x_in = _x_in(args.train, n)
    x_in = {"energy": x_in["energy"][: config["figures"]["x_in"]],
            "W": x_in["W"][: config["figures"]["x_in_w_mz"]], "Mz": x_in["Mz"][: config["figures"]["x_in_w_mz"]]}
    inputs = Inputs(x_in=x_in, pairs=_runs(args.run), vae=pd.read_csv(args.vae) if args.vae else None,
                    ground_state=lattice_ground_state(config["lattice"]["L"], ham)[2],
                    chosen_beta=float(config["vae"]["beta"]), criteria=config["claims"])
    table = claims_table(inputs)
    write_csv(table, args.out)
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table[["id", "held", "value", "measured"]].to_string(index=False))


# --- benchmarks ------------------------------------------------------------------------------


def cmd_bench(args):
    from . import bench

    if args.stage == "anneal":
        rows = bench.bench_anneal(L=args.L, sweeps=args.sweeps, min_seconds=args.seconds, threads=args.threads,
                                  torch_device=args.device, torch_batch=args.batch, torch_compile=args.compile)
        table = bench.format_table(rows, bench.ANNEAL_COLUMNS)
    elif args.stage == "vae":
        _set_torch_threads(args.threads[0] if args.threads else None)
        rows = bench.bench_vae(L=args.L, batch_size=args.batch, min_seconds=args.seconds, device=args.device or "auto")
        table = bench.format_table(rows, bench.VAE_COLUMNS)
    elif args.stage == "explore":
        _set_torch_threads(args.threads[0] if args.threads else None)
        rows = bench.bench_explore(L=args.L, device=args.device or "auto", min_seconds=args.seconds,
                                   population=args.batch)
        table = bench.format_table(rows, bench.EXPLORE_COLUMNS)
        table += "\n(stochastic: hours per 10,000 steps; the paper's runs take several such phases)"
    else:  # all
        rows = bench.bench_all(Ls=args.Ls or (32, 64, 128, 256), train_L=args.L, device=args.device or "auto",
                               min_seconds=args.seconds, sweeps=args.sweeps, batch=args.batch, compile=args.compile)
        v = rows[0]
        table = bench.format_table(rows, bench.ALL_COLUMNS)
        table += (f"\n(torch {v['torch']}, numba {v['numba']}, numpy {v['numpy']}, python {v['python']}; "
                  f"CPU {v['cpu']}; GPU {v['gpu'] or 'none'}. CPU path: numba on all threads for annealing, "
                  "torch on the CPU otherwise)")
        if args.csv:
            import pandas as pd

            from .outputs import write_csv

            write_csv(pd.DataFrame(rows), args.csv)
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
    q.add_argument("--threads", type=int, default=None, help="numba kernel threads (default: all cores)")
    q.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"],
                   help="cpu: the numba kernel; cuda: the torch kernel on the GPU; auto: cuda if torch sees a GPU, "
                        "else cpu (default: the config's anneal.device)")

    q = command("assemble", cmd_assemble, "concatenate shard stores into one split store")
    q.add_argument("--out", required=True)
    q.add_argument("shards", nargs="+")

    q = command("summarize", cmd_summarize, "statistics of a split against the expected labyrinth physics")
    q.add_argument("dataset")
    q.add_argument("--out", help="write the JSON here too")
    q.add_argument("--wavelength-samples", type=int, default=256)

    q = command("plot-samples", cmd_plot_samples, "grid of configurations of a split (paper's colour convention)")
    q.add_argument("dataset")
    q.add_argument("--out", nargs="+", required=True, help="image files (.png, .pdf)")
    q.add_argument("--n", type=int, default=12)
    q.add_argument("--ncols", type=int, default=4)
    q.add_argument("--dpi", type=int, default=120)

    q = command("train-vae", cmd_train_vae, "train the VAE of one beta (resumes from its checkpoint)", config=True)
    q.add_argument("--beta", type=float, required=True)
    q.add_argument("--train", required=True, help="training split (Zarr)")
    q.add_argument("--valid", required=True, help="validation split (Zarr)")
    q.add_argument("--out-dir", required=True, help="writes model.pt, history.csv (and checkpoint.pt while running)")
    _checkpoint_argument(q, "training")
    device_and_threads(q)

    q = command("vae-report", cmd_vae_report,
                "posterior-collapse and X_VAE diagnostics of every model: JSON, table and figure", config=True)
    q.add_argument("--models", nargs="+", required=True)
    q.add_argument("--histories", nargs="+", required=True, help="history.csv of each model, same order")
    q.add_argument("--valid", required=True)
    q.add_argument("--chosen-beta", type=float, required=True)
    q.add_argument("--json", required=True, help="all diagnostics, with per-dimension arrays")
    q.add_argument("--table", required=True)
    q.add_argument("--figure", nargs="+", required=True, help="image files (.png, .pdf)")
    device_and_threads(q)

    q = command("plot-vae", cmd_plot_vae, "reconstructions and decoded prior samples of one model")
    q.add_argument("--model", required=True)
    q.add_argument("--valid", required=True)
    q.add_argument("--reconstruction", nargs="+", required=True, help="images: inputs beside outputs")
    q.add_argument("--samples", nargs="+", required=True, help="images: X_VAE and local energy maps")
    q.add_argument("--n", type=int, default=6)

    q = command("explore", cmd_explore, "run one latent-space explorer on one objective", config=True)
    q.add_argument("--algorithm", required=True, choices=cfg.ALGORITHMS)
    q.add_argument("--objective", required=True, choices=cfg.OBJECTIVES)
    q.add_argument("--model", required=True, help="a model.pt of train-vae")
    q.add_argument("--out-dir", required=True, help="writes trajectory.zarr and summary.json")
    _checkpoint_argument(q, "search")
    device_and_threads(q)

    q = command("explore-metrics", cmd_explore_metrics, "collect the summaries of explored pairs into one table")
    q.add_argument("--out", required=True)
    q.add_argument("summaries", nargs="+")

    q = command("figure", cmd_figure, "draw one of the paper's figures (or convergence, paths, levels, relaxation)",
                config=True)
    q.add_argument("name", choices=["fig1", "fig3", "fig4", "fig5", "convergence", "paths", "levels", "relaxation"])
    q.add_argument("--out", action="append", required=True, help="output file (.png, .pdf); repeat for several")
    q.add_argument("--train", help="training data (Zarr): X_IN (fig1, fig3, fig5)")
    q.add_argument("--model", help="model.pt of the explored beta (fig1)")
    q.add_argument("--run", action="append", help="ALGORITHM/OBJECTIVE=trajectory.zarr of an explored pair")
    q.add_argument("--metrics", help="results/explore/metrics.csv (relaxation)")

    q = command("claims", cmd_claims, "the paper's claims with measured values and criteria (CSV)", config=True)
    q.add_argument("--out", required=True)
    q.add_argument("--train", required=True, help="training data (Zarr): X_IN")
    q.add_argument("--vae", help="results/vae/diagnostics.csv")
    q.add_argument("--run", action="append", help="ALGORITHM/OBJECTIVE=trajectory.zarr of an explored pair")

    q = command("bench", cmd_bench, "throughput benchmark of a stage")
    q.add_argument("stage", choices=["anneal", "vae", "explore", "all"],
                   help="all: every stage on --device beside its CPU path, one table (and --csv)")
    q.add_argument("--L", type=int, default=128, help="lattice size (all: of the VAE and explorer rows)")
    q.add_argument("--Ls", type=int, nargs="+", help="all: annealing lattice sizes (default 32 64 128 256)")
    q.add_argument("--csv", help="all: also write the table as CSV, with versions, to this path")
    q.add_argument("--sweeps", type=int, default=20, help="anneal: sweeps per timed run")
    q.add_argument("--batch", type=int, default=100,
                   help="vae, explore: batch size / population; anneal: samples per torch-kernel batch")
    q.add_argument("--device", default=None, choices=["auto", "cpu", "cuda"],
                   help="vae, explore: device (default auto); anneal: also time the torch kernel there (auto: the "
                        "GPU if torch sees one, else the CPU), beside the numba kernel")
    q.add_argument("--seconds", type=float, default=2.0, help="minimum timing per measurement")
    q.add_argument("--threads", type=int, action="append", help="thread counts (anneal default: 1 and all)")
    q.add_argument("--no-compile", dest="compile", action="store_false",
                   help="anneal, all: leave out the compiled torch kernel (the workflow's GPU setting, "
                        "anneal.torch.compile), whose warm-up compiles for tens of seconds per L")
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
