"""The retraining loop (explore.retrain) through real Snakemake at the smoke preset, from a copy of
the smoke run of the paper's pairs: one round for the Mz searches."""

import shutil

import pandas as pd
import pytest
import torch
import yaml
from conftest import run_snakemake as snakemake
from latentspin.vae.model import load_model

pytestmark = pytest.mark.slow

PAIRS = {"explore": {"pairs": {"single_code": [], "genetic": ["Mz"], "stochastic": ["Mz"]}}}


def test_a_round_retrains_the_decoder_and_searches_again(smoke_paper_pairs, checkout, tmp_path):
    """Round 1's decoder for Mz is round 0's fine-tuned (other weights, same architecture and β),
    on the data and the two searches' found states; round 1's searches use it, round 0's results
    are not touched; metrics.csv holds both rounds of both pairs with the decoder's validation L_RC;
    a second run has nothing to do; changing the round's settings reruns the round and not round 0."""
    workdir = tmp_path / "run"
    shutil.copytree(smoke_paper_pairs, workdir, symlinks=True)
    config = tmp_path / "retrain.yaml"
    config.write_text(yaml.safe_dump({**PAIRS, "explore": {**PAIRS["explore"], "retrain": {"rounds": 1}}}))
    round0 = workdir / "results/explore/stochastic/Mz/summary.json"
    before = round0.stat().st_mtime
    snakemake(checkout, workdir, "results/retrain/metrics.csv", configfiles=[config])
    assert round0.stat().st_mtime == before
    old, new = (load_model(workdir / p) for p in ("results/vae/beta0.001/model.pt",
                                                  "results/retrain/Mz/round1/model.pt"))
    assert old.cfg == new.cfg and new.extra["beta"] == old.extra["beta"] == 0.001
    assert new.extra["retrain_round"] == 1 and new.extra["retrain_objective"] == "Mz"
    assert any(not torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    table = pd.read_csv(workdir / "results/retrain/metrics.csv")
    assert sorted(zip(table["algorithm"], table["round"])) == [("genetic", 0), ("genetic", 1), ("stochastic", 0),
                                                               ("stochastic", 1)]
    row = table[table["round"] == 1].iloc[0]
    assert row["retrain_found_states"] == 2 and 0 < row["retrain_found_weight"] <= 1
    assert row["retrain_valid_rc"] > 0 and row["retrain_valid_rc_before"] > 0
    history = pd.read_csv(workdir / "results/retrain/Mz/round1/history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert not list((workdir / "results/retrain/Mz/round1").glob("checkpoint.pt"))

    r, _ = snakemake(checkout, workdir, "results/retrain/metrics.csv", extra=["-n"], configfiles=[config])
    assert "Nothing to be done" in r.stdout + r.stderr
    config.write_text(yaml.safe_dump({"explore": {**PAIRS["explore"], "retrain": {"rounds": 1, "k": 0.5}}}))
    r, _ = snakemake(checkout, workdir, "results/retrain/metrics.csv", extra=["-n", "--quiet", "rules"],
                     configfiles=[config])
    planned = set(r.stdout.split())
    assert {"retrain_decoder", "explore_round", "retrain_metrics"} <= planned and "explore" not in planned
