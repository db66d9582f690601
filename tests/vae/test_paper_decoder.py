"""The decoder shipped in models/ (docs/models.md) and the preset that runs on it: each model file
at most 40 MB and named by a preset with its SHA-256, which passes the start-up check against
that preset's config; presets/paper-decoder.yaml changes only how much is annealed, which β are
trained and how the searches are cut, and its DAG trains nothing."""

import pytest
import torch
from conftest import config_leaves, dry_run_jobs, run_snakemake
from latentspin.core import config as cfg
from latentspin.vae import shipped

MAX_BYTES = 40_000_000


def preset_models(root) -> dict:
    """Each model file a preset names (resolved as the workflow does, beside the Snakefile): its
    preset and that preset's whole config."""
    named = {}
    for preset in sorted((root / "presets").glob("*.yaml")):
        config = cfg.load([root / "config.yaml", preset])
        if config["vae"].get("pretrained"):
            named[shipped.resolve(config["vae"]["pretrained"]["path"], [root])] = (preset.name, config)
    return named


def test_every_shipped_model_is_small_named_by_a_preset_and_passes_its_check(root):
    models = sorted((root / "models").glob("*.pt"))
    assert models, "models/ holds the paper-scale decoder (issue: the paper-scale decoder)"
    named = preset_models(root)
    for model in models:
        assert model.stat().st_size <= MAX_BYTES, (model, model.stat().st_size)
        assert model.resolve() in {p.resolve() for p in named}, f"{model} is named by no preset"
    for path, (preset, config) in named.items():
        shipped.check(config, path)  # SHA-256, weights only, architecture, L, beta, history


def test_the_paper_decoder_carries_its_training_and_provenance(root, paper_config):
    extra = torch.load(root / "models" / "paper-decoder-beta0.001.pt", weights_only=True)["extra"]
    history = extra["history"]
    assert len(history["epoch"]) == paper_config["vae"]["training"]["epochs"] == 100
    assert extra["beta"] == paper_config["vae"]["beta"] == 0.001
    # the loss it reached: valid L_RC below the 3-epoch float32 run's (docs/results-paper.md)
    assert history["valid_rc"][-1] < 0.14
    for key in ("training_commit", "machine", "training_hours_as_run", "epoch_seconds_median", "config",
                "diagnostics"):
        assert key in extra["provenance"], key
    # its diagnostics on the 5,000 validation samples: no latent unit collapsed at beta = 0.001
    diagnostics = extra["provenance"]["diagnostics"]
    assert diagnostics["valid_samples"] == 5000
    assert diagnostics["active_units"] == paper_config["vae"]["architecture"]["latent_dim"]


def test_the_preset_changes_only_the_data_size_the_trained_betas_and_the_search_lengths(root, paper_config):
    preset = dict(config_leaves(cfg.load([root / "config.yaml", root / "presets" / "paper-decoder.yaml"])))
    paper = dict(config_leaves(paper_config))
    changed = {k for k in preset.keys() | paper.keys() if preset.get(k) != paper.get(k)}
    assert changed <= {"data.train.samples", "data.train.shards", "data.valid.samples", "data.valid.shards",
                       "vae.betas", "vae.pretrained", "vae.pretrained.path", "vae.pretrained.sha256",
                       "explore.threads", "explore.stochastic.gamma_every",
                       "explore.stochastic.max_iterations"}, changed
    assert preset["data.train.samples"] >= paper["figures.x_in_w_mz"]  # X_IN of Fig. 5f


@pytest.mark.slow
def test_the_preset_trains_nothing_and_runs_the_papers_searches(root, tmp_path):
    r, _ = run_snakemake(root, tmp_path, extra=["-n"], preset="paper-decoder")
    counts = dry_run_jobs(r.stdout)
    assert "train_vae" not in counts and counts["install_pretrained_vae"] == 1
    assert counts["explore"] == 8 and counts["claims"] == 1
