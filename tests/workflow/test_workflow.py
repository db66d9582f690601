"""The smoke DAG end to end through Snakemake, as a user runs it."""

import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_snakemake as snakemake
from latentspin.core import config as cfg
from latentspin.core import stores

pytestmark = pytest.mark.slow


def test_outputs_follow_the_data_contract(smoke):
    workdir = smoke
    for split, n in (("train", 64), ("valid", 16)):
        ds = stores.open_dataset(workdir / f"results/data/{split}.zarr")
        assert ds["spins"].shape == (n, 3, 32, 32) and ds["spins"].dtype == np.float32
        assert {"energy", "W", "Mz"} <= set(ds.data_vars)
        assert ds.attrs["L"] == 32 and ds.attrs["dmi"] == "bloch"
        summary = json.loads((workdir / f"results/data/{split}_summary.json").read_text())
        assert summary["samples"] == n and summary["labyrinth_checks"]["W integer to 1e-6"]
    for log in (workdir / "results/logs/anneal").rglob("*.log"):
        assert "100%" in log.read_text()  # the progress bar ran to the end
    assert list((workdir / "results/benchmarks/anneal").rglob("*.tsv"))


FIGURES = ("data_samples", "vae_diagnostics", "vae_reconstruction", "vae_samples", "fig1", "fig3", "fig4", "fig5",
           "convergence", "relaxation", "levels")


def test_every_figure_is_a_readable_png_and_pdf(smoke):
    workdir = smoke
    for figure in FIGURES:
        image = mpimg.imread(workdir / f"results/figures/{figure}.png")
        assert image.ndim == 3 and image.shape[0] > 200 and image[..., :3].std() > 0.05, figure
        pdf = (workdir / f"results/figures/{figure}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000, figure


def test_claims_table_is_complete(smoke):
    from latentspin.figures.claims import CLAIMS

    workdir = smoke
    claims = pd.read_csv(workdir / "results/claims.csv")
    assert list(claims["id"]) == [c.id for c in CLAIMS]
    assert set(claims["held"]) <= {"yes", "no"}  # every paper pair ran: nothing "not run"
    assert claims["measured"].str.len().min() > 20 and claims["criterion"].notna().all()


def test_report_is_browsable_html(smoke, checkout):
    workdir = smoke
    matrix = [workdir / "full_matrix.yaml"]
    snakemake(checkout, workdir, extra=("--report", "results/report.html"), configfiles=matrix)
    html = (workdir / "results/report.html").read_text(errors="replace")
    assert html.lstrip().lower().startswith("<!doctype html") and len(html) > 100_000
    for figure in ("fig1.png", "fig4.png", "claims.csv", "vae_diagnostics.png"):
        assert figure in html, figure


def test_vae_stage_outputs(smoke):
    workdir = smoke
    table = pd.read_csv(workdir / "results/vae/diagnostics.csv")
    assert sorted(table["beta"]) == [0.0001, 0.001, 0.01, 0.1]
    assert ((table["active_units"] >= 0) & (table["active_units"] <= table["latent_dim"])).all()
    for beta in ("0.1", "0.01", "0.001", "0.0001"):
        history = pd.read_csv(workdir / f"results/vae/beta{beta}/history.csv")
        assert list(history["epoch"]) == [1, 2]
        assert not (workdir / f"results/vae/beta{beta}/checkpoint.pt").exists()  # removed when done


def test_every_pair_explored(smoke):
    workdir = smoke
    metrics = pd.read_csv(workdir / "results/explore/metrics.csv")
    # 3 algorithms x (the 5 built-in objectives and one of your own, test_custom_objective.py)
    assert len(metrics) == 18 and not metrics.duplicated(["algorithm", "objective"]).any()
    assert (metrics["relaxed_energy"] <= metrics["final_energy"] + 1e-6).all()
    assert (metrics["decodes"] > 0).all() and (metrics["decodes_per_s"] > 0).all()
    ds = stores.open_dataset(workdir / "results/explore/genetic/W/trajectory.zarr")
    assert ds.sizes["generation"] == 11 and list(ds["snapshot"].values) == [0, 5, 10]


def test_the_longest_searches_start_first(smoke_paper_pairs, paper_config, root):
    """With fewer cores than searches, Snakemake starts them in the order of their priority, most
    decodes first (search_priority): in the smoke run, the three stochastic searches, then
    single-code, then the genetic ones; no search starts after one of lower priority."""
    log = "".join(f.read_text() for f in sorted((smoke_paper_pairs / ".snakemake" / "log").glob("*.log")))
    started = re.findall(r"^(?:local)?rule explore:\n(?:    .*\n)*?    wildcards: algorithm=(\w+), objective=\w+\n"
                         r"(?:    .*\n)*?    priority: (\d+)", log, re.MULTILINE)
    assert len(started) == 8, log[-3000:]
    priorities = [int(p) for _, p in started]
    assert priorities == sorted(priorities, reverse=True), started
    assert [a for a, _ in started[:3]] == ["stochastic"] * 3, started
    # the smoke preset's numbers: stochastic 8 samples x 30 steps, single-code 8 codes x 20, both x 2
    # for the gradient; genetic 16 x 10
    smoke = cfg.merge(paper_config, yaml.safe_load((root / "presets" / "smoke.yaml").read_text()))
    assert {a: int(p) for a, p in started} == {a: cfg.search_priority(smoke, a) for a in cfg.ALGORITHMS} \
        == {"stochastic": 480, "single_code": 320, "genetic": 160}


def test_rerun_has_nothing_to_do_and_one_rule_reruns(smoke, checkout):
    workdir = smoke
    matrix = [workdir / "full_matrix.yaml"]  # the configuration of the last run
    r, _ = snakemake(checkout, workdir, extra=("-n",), configfiles=matrix)
    assert "Nothing to be done" in r.stdout + r.stderr
    before = (workdir / "results/data/train.zarr").stat().st_mtime
    r, _ = snakemake(checkout, workdir, "results/data/train_summary.json", extra=("--forcerun", "summarize_split"),
                     configfiles=matrix)
    assert (workdir / "results/data/train.zarr").stat().st_mtime == before  # upstream untouched


def _edit(module: Path):
    """What an edit does to a module: new content (Snakemake compares checksums, not only times)."""
    module.write_text(module.read_text() + "\n# edited by a test\n")


def test_an_edited_figure_module_reruns_that_figure_alone(smoke, checkout):
    """A figure's code is an input of its rule: after its module is edited, a plain `snakemake`
    redraws that figure and touches nothing else (no -R needed)."""
    workdir = smoke
    outputs = [p for p in (workdir / "results").rglob("*") if p.is_file() and "logs" not in p.parts
               and "benchmarks" not in p.parts and not p.name.startswith("fig4.")]
    before = {p: p.stat().st_mtime_ns for p in outputs}
    fig4 = workdir / "results/figures/fig4.png"
    fig4_before = fig4.stat().st_mtime_ns
    _edit(checkout / "workflow/latentspin/figures/fig4.py")
    r, _ = snakemake(checkout, workdir, configfiles=[workdir / "full_matrix.yaml"])
    log = r.stdout + r.stderr
    assert "rule figure_4:" in log and log.count("\nrule ") + log.count("\nlocalrule ") == 2  # figure_4 and all
    assert fig4.stat().st_mtime_ns > fig4_before
    assert {p: p.stat().st_mtime_ns for p in outputs} == before  # no other figure, nothing upstream


def test_an_edited_shared_figure_module_redraws_every_figure_and_nothing_upstream(smoke, checkout):
    """The modules every figure is drawn with are inputs of every figure's rule (a dry run)."""
    workdir = smoke
    style = checkout / "workflow/latentspin/figures/style.py"
    original = style.read_text()
    _edit(style)
    try:
        r, _ = snakemake(checkout, workdir, extra=("-n",), configfiles=[workdir / "full_matrix.yaml"])
    finally:  # later tests run on these results
        style.write_text(original)
    rules = set(re.findall(r"^(?:local)?rule (\w+):", r.stdout + r.stderr, re.M))
    figures = {"figure_1", "figure_3", "figure_4", "figure_5", "figure_convergence", "figure_paths", "figure_levels",
               "figure_relaxation", "data_figure", "vae_figures", "vae_report"}
    # vae_report draws vae_diagnostics.png, and the claims read its table
    assert rules == figures | {"claims", "all"}, rules
