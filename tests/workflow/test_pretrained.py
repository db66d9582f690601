"""vae.pretrained through Snakemake: the chosen beta's model is installed from its file instead of
trained (no data needed for it), and a file that is not the one the config names stops Snakemake
before any job, naming the file."""

import re

import pytest
import torch
import yaml
from conftest import dry_run_jobs
from conftest import run_snakemake as snakemake
from latentspin.core import config as cfg
from latentspin.vae import shipped
from latentspin.vae.model import VAE, load_model, save_model
from latentspin.vae.training import vae_config

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(root, tmp_path, paper_config):
    """A working directory with models/decoder.pt (a model of the smoke preset's architecture) and
    decoder.yaml, the config that names it."""
    config = cfg.merge(paper_config, yaml.safe_load((root / "presets" / "smoke.yaml").read_text()))
    torch.manual_seed(0)
    save_model(VAE(vae_config(config)), tmp_path / "model.pt", extra={"beta": 0.001, "epochs_trained": 1})
    (tmp_path / "history.csv").write_text("epoch,train_rc,train_kl,train_loss,valid_rc,valid_kl,seconds\n"
                                          "1,0.5,20.0,0.52,0.45,21.0,3.5\n")
    work = tmp_path / "work"
    (work / "models").mkdir(parents=True)
    digest = shipped.export_model(tmp_path / "model.pt", tmp_path / "history.csv", work / "models" / "decoder.pt")
    (work / "decoder.yaml").write_text(yaml.safe_dump(
        {"vae": {"betas": [0.001], "pretrained": {"path": "models/decoder.pt", "sha256": digest}}}))
    return work


def test_the_chosen_model_is_installed_not_trained(root, workdir):
    r, _ = snakemake(root, workdir, extra=["-n"], configfiles=[workdir / "decoder.yaml"])
    counts = dry_run_jobs(r.stdout)
    assert counts["install_pretrained_vae"] == 1 and "train_vae" not in counts
    assert counts["anneal_shard"] == 3  # the data the figures and claims read, still annealed
    lint, _ = snakemake(root, workdir, extra=["--lint"], configfiles=[workdir / "decoder.yaml"])
    assert "Congratulations" in lint.stdout + lint.stderr  # the rule that exists only with vae.pretrained set
    snakemake(root, workdir, "results/vae/beta0.001/model.pt", configfiles=[workdir / "decoder.yaml"])
    assert not (workdir / "results" / "data").exists()  # the model alone needs no data
    installed = load_model(workdir / "results" / "vae" / "beta0.001" / "model.pt")
    expected = load_model(workdir / "models" / "decoder.pt")
    assert all(torch.equal(a, b) for a, b in zip(installed.state_dict().values(), expected.state_dict().values()))
    assert (workdir / "results" / "vae" / "beta0.001" / "history.csv").read_text().startswith("epoch,")


def test_a_changed_model_file_stops_snakemake_before_any_job(root, workdir):
    model = workdir / "models" / "decoder.pt"
    model.write_bytes(model.read_bytes()[:-100])
    r, _ = snakemake(root, workdir, configfiles=[workdir / "decoder.yaml"], timeout=300, check=False)
    assert r.returncode != 0
    assert re.search(r"models/decoder\.pt: its SHA-256 is [0-9a-f]{64}, not the [0-9a-f]{64} that config key "
                     r"vae\.pretrained\.sha256 names", r.stderr + r.stdout)
    assert not (workdir / "results").exists()
    # a cluster job reads the Snakefile again (Snakemake's remote mode) and leaves the check to the
    # main process and to its own install-model command: its parse neither hashes nor loads the file
    job, _ = snakemake(root, workdir, "results/vae/beta0.001/model.pt", extra=["-n", "--mode", "remote"],
                       configfiles=[workdir / "decoder.yaml"], timeout=300)
    assert "install_pretrained_vae" in job.stdout
