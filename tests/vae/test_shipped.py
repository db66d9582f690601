"""A model handed on as a file (vae.pretrained): exported with its history and provenance, then
installed bitwise where training would have put it; a changed, truncated, foreign or mismatched
file is refused naming the file and the key, and loading it never runs code."""

import hashlib
import re

import pandas as pd
import pytest
import torch
from latentspin.core import config as cfg
from latentspin.core.errors import ConfigError, DamagedFile
from latentspin.vae import shipped
from latentspin.vae.model import VAE, load_model, save_model
from latentspin.vae.training import vae_config

SMALL = {"latent_dim": 8, "encoder_channels": [4, 6, 8, 8], "decoder_channels": [8, 6, 4, 3], "dense": 16}
HISTORY = pd.DataFrame({"epoch": [1, 2], "train_rc": [0.5, 0.3], "train_kl": [20.0, 30.0], "train_loss": [0.52, 0.33],
                        "valid_rc": [0.45, 0.29], "valid_kl": [21.0, 31.0], "seconds": [3.5, 3.4]})


def small_config(paper_config, beta=0.001):
    return cfg.merge(paper_config, {"lattice": {"L": 32}, "vae": {"beta": beta, "architecture": SMALL}})


def trained(tmp_path, config, beta=0.001, epochs=2):
    """A model and history as train-vae leaves them."""
    torch.manual_seed(1)
    model = VAE(vae_config(config))
    save_model(model, tmp_path / "model.pt", extra={"beta": beta, "epochs_trained": epochs})
    HISTORY.iloc[:epochs].to_csv(tmp_path / "history.csv", index=False)
    return model


@pytest.fixture
def exported(tmp_path, paper_config):
    config = small_config(paper_config)
    model = trained(tmp_path, config)
    out = tmp_path / "models" / "decoder.pt"
    out.parent.mkdir()
    digest = shipped.export_model(tmp_path / "model.pt", tmp_path / "history.csv", out,
                                  {"commit": "abc1234", "hours": 1.5})
    config = cfg.merge(config, {"vae": {"pretrained": {"path": "models/decoder.pt", "sha256": digest}}})
    return model, out, digest, config


def test_the_printed_digest_is_the_files_sha256_and_the_file_loads_weights_only(exported):
    _, out, digest, _ = exported
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    blob = torch.load(out, weights_only=True)  # no code needed to read it back
    assert blob["extra"]["provenance"] == {"commit": "abc1234", "hours": 1.5}
    assert blob["extra"]["history"]["valid_rc"] == [0.45, 0.29]


def test_installing_puts_the_same_weights_and_history_where_training_would(exported, tmp_path):
    model, out, _, config = exported
    shipped.install(config, out, tmp_path / "results")
    installed = load_model(tmp_path / "results" / "model.pt")
    for (name, a), b in zip(model.state_dict().items(), installed.state_dict().values()):
        assert torch.equal(a, b), name
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "results" / "history.csv"), HISTORY, check_dtype=False)


def test_a_relative_path_is_found_in_the_working_directory_first_then_beside_the_snakefile(exported, tmp_path):
    _, out, _, _ = exported
    workdir = tmp_path / "work"
    workdir.mkdir()
    assert shipped.resolve("models/decoder.pt", [workdir, tmp_path]) == out
    (workdir / "models").mkdir()
    (workdir / "models" / "decoder.pt").write_bytes(out.read_bytes())
    assert shipped.resolve("models/decoder.pt", [workdir, tmp_path]) == workdir / "models" / "decoder.pt"
    with pytest.raises(ConfigError, match=r"vae\.pretrained\.path \(models/other\.pt\): no such file"):
        shipped.resolve("models/other.pt", [workdir, tmp_path])


@pytest.mark.parametrize("damage", ["truncate", "one byte", "replaced"])
def test_a_changed_file_is_refused_naming_it_and_the_key(exported, paper_config, tmp_path, damage):
    _, out, digest, config = exported
    raw = bytearray(out.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "one byte":
        raw[len(raw) // 2] ^= 0x01
    else:  # another model, intact in itself
        other = tmp_path / "other"
        other.mkdir()
        trained(other, config)
        raw = (other / "model.pt").read_bytes()
    out.write_bytes(bytes(raw))
    with pytest.raises(DamagedFile, match=rf"decoder\.pt: its SHA-256 is [0-9a-f]{{64}}, not the {digest} that "
                                          r"config key vae\.pretrained\.sha256 names"):
        shipped.check(config, out)


def test_a_pinned_file_that_would_run_code_is_refused_without_running_it(paper_config, tmp_path):
    marker = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):
            return (marker.touch, ())

    path = tmp_path / "decoder.pt"
    torch.save({"config": {}, "state_dict": {}, "payload": Payload()}, path)
    config = cfg.merge(small_config(paper_config), {"vae": {"pretrained": {
        "path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}}})
    with pytest.raises(DamagedFile, match=r"decoder\.pt: not a readable model file"):
        shipped.check(config, path)
    assert not marker.exists()


@pytest.mark.parametrize("change, key", [({"lattice": {"L": 64}}, "lattice.L"),
                                         ({"vae": {"architecture": {"latent_dim": 9}}}, "vae.architecture.latent_dim"),
                                         ({"vae": {"beta": 0.01}}, "vae.beta")])
def test_a_model_of_another_config_is_refused_naming_the_key(exported, change, key):
    _, out, _, config = exported
    with pytest.raises(ConfigError, match=rf"config key {re.escape(key)} is .* but the model in .*decoder\.pt"):
        shipped.check(cfg.merge(config, change), out)


def test_a_history_of_another_run_is_not_exported(tmp_path, paper_config):
    trained(tmp_path, small_config(paper_config), epochs=2)
    HISTORY.iloc[:1].to_csv(tmp_path / "history.csv", index=False)
    with pytest.raises(DamagedFile, match=r"history\.csv: 1 epochs, but the model .* was trained for 2"):
        shipped.export_model(tmp_path / "model.pt", tmp_path / "history.csv", tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_a_model_file_without_history_is_not_taken(tmp_path, paper_config):
    config = small_config(paper_config)
    trained(tmp_path, config)
    path = tmp_path / "model.pt"
    config = cfg.merge(config, {"vae": {"pretrained": {"path": str(path), "sha256": cfg.file_sha256(path)}}})
    with pytest.raises(DamagedFile, match=r"model\.pt: no training history in the file; .*export-model"):
        shipped.check(config, path)


def test_the_schema_takes_a_pretrained_model_and_refuses_a_malformed_digest(paper_config):
    good = {"vae": {"pretrained": {"path": "models/x.pt", "sha256": "a" * 64}}}
    cfg.validate(cfg.merge(paper_config, good))
    bad = {"vae": {"pretrained": {"path": "models/x.pt", "sha256": "A1B2"}}}
    with pytest.raises(ConfigError, match=r"vae\.pretrained\.sha256"):
        cfg.validate(cfg.merge(paper_config, bad))
