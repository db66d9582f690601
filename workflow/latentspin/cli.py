"""Command line: every stage of the workflow can run without Snakemake.

Each command parses its arguments and calls one function of its stage; the rules call these
commands (``snakemake -p`` prints them), so a printed command can be rerun by hand. ``--config``
takes YAML files and inline JSON mappings, merged left to right, e.g.
``latentspin anneal --config config.yaml --config presets/smoke.yaml --split train --shard 0
--out shard.zarr``. Heavy imports happen inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from latentspin import __version__
from latentspin.core import config as cfg
from latentspin.core.errors import UserError

# the figures' names, without importing the figures (--help stays instant)
FIGURES = ("fig1", "fig3", "fig4", "fig5", "convergence", "paths", "levels", "relaxation", "rounds")


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


# --- annealing -------------------------------------------------------------------------------


def cmd_anneal(args):
    from latentspin.anneal.shards import anneal_shard

    config = cfg.load(args.config, cfg.ANNEAL_SECTIONS)
    anneal_shard(config, args.split, args.shard, args.out, threads=args.threads, device=args.device)


def cmd_assemble(args):
    from latentspin.core.stores import assemble

    assemble(args.shards, args.out)


def cmd_import_ovf(args):
    from latentspin.anneal.ovf_import import import_split

    config = cfg.load(args.config, cfg.IMPORT_SECTIONS)
    import_split(config, args.folder, args.out, split=args.split)


def cmd_export_ovf(args):
    from latentspin.core.ovf import export_store, parse_indices

    samples = parse_indices(args.samples) if args.samples is not None else None
    written = export_store(args.store, args.out, fmt=args.format, samples=samples, states=args.states,
                           step=args.step)
    print(f"{len(written)} OVF files in {args.out}")


def cmd_summarize(args):
    from latentspin.anneal.shards import write_summary

    print(json.dumps(write_summary(args.dataset, args.out, args.wavelength_samples), indent=2))


def cmd_plot_samples(args):
    from latentspin.figures import data_samples

    data_samples.draw(args.dataset, args.out, n=args.n, ncols=args.ncols, dpi=args.dpi)


# --- VAE -------------------------------------------------------------------------------------


def cmd_train_vae(args):
    from latentspin.core.checkpoints import Stopped
    from latentspin.vae.training import train_beta

    config = cfg.load(args.config, cfg.TRAIN_SECTIONS)
    checkpoint_seconds = _checkpoint_seconds(args)
    try:
        train_beta(config, args.beta, args.train, args.valid, args.out_dir, device=args.device,
                   threads=args.threads, **checkpoint_seconds)
    except Stopped as e:  # no outputs: the job failed, and its rerun resumes from the checkpoint
        raise SystemExit(f"latentspin: training {e} in {Path(args.out_dir) / 'checkpoint.pt'}; "
                         "rerun to resume it") from None


def cmd_export_model(args):
    from latentspin.vae.shipped import export_model

    provenance: dict = {}
    for source in args.provenance or []:
        provenance = cfg.merge(provenance, cfg.read_source(source))
    digest = export_model(args.model, args.history, args.out, provenance)
    print(f"{args.out}\nsha256: {digest}")


def cmd_install_model(args):
    from latentspin.vae.shipped import install

    config = cfg.load(args.config, cfg.PRETRAINED_SECTIONS)
    install(config, args.model, args.out_dir)


def cmd_vae_report(args):
    from latentspin.figures import vae

    config = cfg.load(args.config, cfg.DIAGNOSE_SECTIONS)
    table = vae.report(config, args.models, args.histories, args.valid, args.chosen_beta, json=args.json,
                       table_out=args.table, figure_out=args.figure, device=args.device, threads=args.threads)
    print(table.to_string(index=False))


def cmd_plot_vae(args):
    from latentspin.figures import vae

    vae.draw_model(args.model, args.valid, args.reconstruction, args.samples, n=args.n)


# --- exploration -----------------------------------------------------------------------------


def cmd_explore(args):
    from latentspin.explore.algorithms import SearchStopped
    from latentspin.explore.objectives import check_custom
    from latentspin.explore.search import search_job

    sections = cfg.explore_sections(args.algorithm, args.objective)
    config = cfg.load(args.config, sections)
    # an objective of yours is imported and tried before the model is read (the others' are not)
    check_custom(cfg.subset(config, sections), [(args.algorithm, args.objective)])
    checkpoint_seconds = _checkpoint_seconds(args)
    try:
        search_job(config, args.algorithm, args.objective, args.model, args.out_dir, device=args.device,
                   threads=args.threads, **checkpoint_seconds)
    except SearchStopped as e:  # no outputs: the job failed, and its rerun resumes from the checkpoint
        raise SystemExit(f"latentspin: search {e} in {Path(args.out_dir) / 'checkpoint.pt'}; "
                         "rerun to resume it") from None


def cmd_retrain(args):
    from latentspin.explore.retrain import retrain_job
    from latentspin.figures.inputs import parse_run

    config = cfg.load(args.config, cfg.retrain_sections(args.objective))
    runs = {}
    for spec in args.run:
        (algorithm, objective), path = parse_run(spec)
        if objective != args.objective:
            raise cfg.ConfigError(f"--run {spec!r}: a search of {objective}, not of --objective {args.objective}")
        runs[algorithm] = path
    # the objective (yours: imported and checked) is built before the model is read
    retrain_job(config, args.objective, args.round, args.model, args.train, args.valid, runs, args.out_dir,
                device=args.device, threads=args.threads)


def cmd_retrain_metrics(args):
    from latentspin.explore.metrics import write_round_metrics

    write_round_metrics(args.summaries, args.pools or [], args.out)


def cmd_explore_metrics(args):
    from latentspin.explore.metrics import write_metrics

    print(write_metrics(args.summaries, args.out).to_string(index=False))


# --- figures and claims ----------------------------------------------------------------------


def cmd_figure(args):
    from latentspin.figures.job import draw_figure

    config = cfg.load(args.config, cfg.FIGURE_SECTIONS)
    draw_figure(args.name, config, args.out, runs=args.run, train=args.train, model=args.model, metrics=args.metrics)


def cmd_claims(args):
    import pandas as pd

    from latentspin.figures.claims import write_claims

    config = cfg.load(args.config, cfg.CLAIMS_SECTIONS)
    table = write_claims(config, args.train, args.out, runs=args.run, vae=args.vae, pairs_key=args.pairs_key)
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table[["id", "held", "value", "measured"]].to_string(index=False))


# --- benchmarks ------------------------------------------------------------------------------


def cmd_bench(args):
    from latentspin import bench

    print(bench.report(args.stage, L=args.L, Ls=args.Ls, sweeps=args.sweeps, batch=args.batch, device=args.device,
                       seconds=args.seconds, threads=args.threads, compile=args.compile, csv=args.csv))


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

    q = command("import-ovf", cmd_import_ovf,
                "a folder of OVF 2.0 files as a split store, with the data contract of an annealed one", config=True)
    q.add_argument("folder", help="its *.ovf and *.omf files, sorted by name; every segment of a file is one sample")
    q.add_argument("--out", required=True, help="the split store to write (Zarr)")
    q.add_argument("--split", default="train", choices=cfg.SPLITS, help="the split it becomes (default: train)")

    q = command("export-ovf", cmd_export_ovf,
                "write the states of a split store or a trajectory store as OVF 2.0 files, one per state")
    q.add_argument("store", help="a split store (results/data/train.zarr) or a trajectory store "
                                 "(results/explore/ALGORITHM/OBJECTIVE/trajectory.zarr)")
    q.add_argument("--out", required=True, help="the folder to write the files into (made if missing)")
    q.add_argument("--format", default="binary8", choices=["binary8", "binary4", "text"],
                   help="the data representation (default: binary8, exact for our float32 spins)")
    q.add_argument("--samples", default=None, metavar="LIST",
                   help="a split's samples to write, e.g. 0-9,15 (default: all)")
    q.add_argument("--states", nargs="+", default=None,
                   choices=["initial", "final", "relaxed", "kicked", "level", "snapshot"],
                   help="a trajectory's kinds of states to write (default: every kind it holds)")
    q.add_argument("--step", type=float, default=1.0,
                   help="the lattice constant written as the mesh's step size, in metres (default: 1)")

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

    q = command("export-model", cmd_export_model,
                "one trained model with its history and provenance as a file to hand on (vae.pretrained)")
    q.add_argument("--model", required=True, help="model.pt as training wrote it")
    q.add_argument("--history", required=True, help="its history.csv")
    q.add_argument("--provenance", action="append", default=None,
                   help="YAML file or inline JSON mapping recorded in the file (commit, config, machine, hours); "
                        "repeat to merge")
    q.add_argument("--out", required=True, help="the file to write; its SHA-256 is printed")

    q = command("install-model", cmd_install_model,
                "check a model file against the config (vae.pretrained) and write it as a trained one", config=True)
    q.add_argument("--model", required=True, help="the file vae.pretrained.path names")
    q.add_argument("--out-dir", required=True, help="writes model.pt and history.csv, as train-vae would")

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
    q.add_argument("--objective", required=True,
                   help=f"one of {', '.join(cfg.OBJECTIVES)}, or a name under {cfg.CUSTOM_KEY} (docs/objectives.md)")
    q.add_argument("--model", required=True, help="a model.pt of train-vae")
    q.add_argument("--out-dir", required=True, help="writes trajectory.zarr and summary.json")
    _checkpoint_argument(q, "search")
    device_and_threads(q)

    q = command("retrain", cmd_retrain, "one round's decoder for one objective: the previous one fine-tuned on the "
                "data and the previous round's found states, weighted by rank (explore.retrain)", config=True)
    q.add_argument("--objective", required=True)
    q.add_argument("--round", type=int, required=True, help="the round this decoder is for (1, 2, ...)")
    q.add_argument("--model", required=True, help="the previous round's decoder (round 1: the chosen beta's)")
    q.add_argument("--train", required=True, help="the training split")
    q.add_argument("--valid", required=True, help="the validation split (its L_RC is recorded per epoch)")
    q.add_argument("--run", action="append", default=[], metavar="ALGORITHM/OBJECTIVE=PATH",
                   help="a trajectory of the previous round's search of this objective (repeatable)")
    q.add_argument("--out-dir", required=True, help="writes model.pt, history.csv and pool.json")
    device_and_threads(q)

    q = command("retrain-metrics", cmd_retrain_metrics,
                "collect every round's summaries and retraining pools into one table (explore.retrain)")
    q.add_argument("--out", required=True)
    q.add_argument("--summaries", nargs="+", required=True)
    q.add_argument("--pools", nargs="*")

    q = command("explore-metrics", cmd_explore_metrics, "collect the summaries of explored pairs into one table")
    q.add_argument("--out", required=True)
    q.add_argument("summaries", nargs="+")

    q = command("figure", cmd_figure, "draw one of the paper's figures (or convergence, paths, levels, relaxation)",
                config=True)
    q.add_argument("name", choices=FIGURES)
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
    q.add_argument("--pairs-key", default="explore.pairs",
                   help="the config key a missing pair is added to (a retraining round's: explore.retrain.pairs)")

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
    except UserError as e:  # a bad config, store or file: one line naming it, no traceback
        print(f"latentspin: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
