"""The retraining loop (explore.retrain) through real Snakemake at the smoke preset, from a copy of
the smoke run of the paper's pairs: one round for the Mz searches."""

import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import run_snakemake as snakemake
from latentspin.core import stores
from latentspin.vae.model import load_model

pytestmark = pytest.mark.slow

PAIRS = {"explore": {"pairs": {"single_code": [], "genetic": ["Mz"], "stochastic": ["Mz"]}}}


RETRAIN = {"rounds": 1, "pairs": {"stochastic": ["Mz"]}}
TARGETS = ["results/retrain/metrics.csv", "results/figures/rounds.png", "results/retrain/round1/claims.csv",
           "results/retrain/round1/paths.png"]


def planned_jobs(stdout: str) -> dict[str, int]:
    """{rule: count} from the job-stats table of a dry run."""
    rows = (line.split() for line in stdout.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def test_a_round_retrains_the_decoder_and_searches_again(smoke_paper_pairs, checkout, tmp_path):
    """Round 1's decoder for Mz is round 0's fine-tuned (other weights, same architecture and β),
    on the data and what the search the loop repeats (stochastic Mz, not genetic Mz) found, its
    final state and its γ levels' samples; round
    1's search uses it, round 0's results are not touched; metrics.csv holds both rounds of that
    search with the decoder's validation L_RC and the guards' diversities; the round has its own
    claims and paths, and the figure across rounds is drawn; a second run has nothing to do;
    changing the round's settings reruns the round and not round 0; one more round adds one decoder
    and one search, and reruns nothing of round 1."""
    workdir = tmp_path / "run"
    shutil.copytree(smoke_paper_pairs, workdir, symlinks=True)
    config = tmp_path / "retrain.yaml"
    config.write_text(yaml.safe_dump({**PAIRS, "explore": {**PAIRS["explore"], "retrain": RETRAIN}}))
    round0 = workdir / "results/explore/stochastic/Mz/summary.json"
    before = round0.stat().st_mtime
    snakemake(checkout, workdir, *TARGETS, configfiles=[config])
    assert round0.stat().st_mtime == before
    old, new = (load_model(workdir / p) for p in ("results/vae/beta0.001/model.pt",
                                                  "results/retrain/Mz/round1/model.pt"))
    assert old.cfg == new.cfg and new.extra["beta"] == old.extra["beta"] == 0.001
    assert new.extra["retrain_round"] == 1 and new.extra["retrain_objective"] == "Mz"
    assert any(not torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    table = pd.read_csv(workdir / "results/retrain/metrics.csv")
    assert sorted(zip(table["algorithm"], table["round"])) == [("stochastic", 0), ("stochastic", 1)]
    row = table[table["round"] == 1].iloc[0]
    # the final state, and the kept samples of every γ level the round-0 search reached
    levels = stores.open_dataset(workdir / "results/explore/stochastic/Mz/trajectory.zarr")["level_spins"].values
    kept = int(np.isfinite(levels.reshape(-1, *levels.shape[-3:])).all(axis=(1, 2, 3)).sum())
    assert kept >= 3 and row["retrain_found_states"] == 1 + kept and 0 < row["retrain_found_weight"] <= 1
    assert row["retrain_valid_rc"] > 0 and row["retrain_valid_rc_before"] > 0
    assert 0 < row["retrain_prior_diversity"] <= 1 and 0 < row["retrain_prior_diversity_before"] <= 1
    assert (0 <= table["level_diversity"]).all() and (table["level_diversity"] <= 1).all()
    assert (workdir / table["trajectory"].iloc[1]).samefile(workdir / "results/retrain/Mz/round1/stochastic/trajectory.zarr")
    history = pd.read_csv(workdir / "results/retrain/Mz/round1/history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert not list((workdir / "results/retrain/Mz/round1").glob("checkpoint.pt"))
    claims = pd.read_csv(workdir / "results/retrain/round1/claims.csv").set_index("id")
    assert claims.loc["5b-skyrmions", "held"] in ("yes", "no")
    assert claims.loc["4d-W-by-W", "measured"] == "not run: needs the pair genetic/W (add it to explore.retrain.pairs)"
    assert (workdir / "results/retrain/round1/paths.png").read_bytes()[:4] == b"\x89PNG"

    r, _ = snakemake(checkout, workdir, *TARGETS, extra=["-n"], configfiles=[config])
    assert "Nothing to be done" in r.stdout + r.stderr
    config.write_text(yaml.safe_dump({"explore": {**PAIRS["explore"], "retrain": {**RETRAIN, "k": 0.5}}}))
    r, _ = snakemake(checkout, workdir, *TARGETS, extra=["-n", "--quiet", "rules"], configfiles=[config])
    planned = planned_jobs(r.stdout)
    assert {"retrain_decoder", "explore_round", "retrain_metrics"} <= planned.keys() and "explore" not in planned
    config.write_text(yaml.safe_dump({"explore": {**PAIRS["explore"], "retrain": {**RETRAIN, "rounds": 2}}}))
    r, _ = snakemake(checkout, workdir, "results/retrain/metrics.csv", extra=["-n", "--quiet", "rules"],
                     configfiles=[config])
    planned = planned_jobs(r.stdout)
    assert planned["retrain_decoder"] == 1 and planned["explore_round"] == 1 and "explore" not in planned
