"""Model and checkpoint files that are damaged: refused (a model) or set aside (a checkpoint), each
with one line naming the file; never read into a result."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from latentspin.core import checkpoints
from latentspin.core.errors import DamagedFile
from latentspin.vae import training
from latentspin.vae.model import VAE, VAEConfig, load_model, save_model

SMALL = dict(latent_dim=8, encoder_channels=(4, 6, 8, 8), decoder_channels=(8, 6, 4, 3), dense=16)


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, **SMALL))
    path = tmp_path / "model.pt"
    save_model(model, path, extra={"beta": 1e-3})
    return model, path


def test_a_saved_model_loads_bitwise(model_file):
    model, path = model_file
    loaded = load_model(path)
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert loaded.extra == {"beta": 1e-3}


def test_a_model_cut_short_is_refused_naming_it(model_file):
    _, path = model_file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DamagedFile, match=r"model\.pt: not a readable model file .* --force .*model\.pt"):
        load_model(path)


def test_a_model_with_one_altered_byte_is_refused_by_its_checksum(model_file):
    """torch reads a flipped byte inside a tensor without complaint; the saved SHA-256 does not."""
    _, path = model_file
    blob = torch.load(path, weights_only=True)
    name, tensor = next((k, v) for k, v in blob["state_dict"].items() if v.numel() > 100)
    raw = bytearray(path.read_bytes())
    needle = bytes(tensor.untyped_storage().tolist()[:64])  # the bytes as saved (any memory layout)
    at = raw.find(needle)
    assert at > 0
    raw[at + 3] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedFile, match="do not match the SHA-256 they were saved with: the file was altered"):
        load_model(path)


def test_a_model_with_non_finite_weights_is_refused(tmp_path):
    model = VAE(VAEConfig(L=32, **SMALL))
    with torch.no_grad():
        next(model.parameters())[0] = float("nan")
    save_model(model, tmp_path / "nan.pt")
    with pytest.raises(DamagedFile, match="weight tensors hold NaN or infinite values"):
        load_model(tmp_path / "nan.pt")


def test_another_torch_file_is_not_taken_for_a_model(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(DamagedFile, match="not a latentspin model file"):
        load_model(tmp_path / "other.pt")


def test_the_command_line_says_it_in_one_line_without_a_traceback(model_file, root, tmp_path):
    _, path = model_file
    path.write_bytes(path.read_bytes()[:1000])
    r = subprocess.run([sys.executable, "-m", "latentspin", "explore", "--config", str(root / "config.yaml"),
                        "--config", str(root / "presets" / "smoke.yaml"), "--algorithm", "genetic", "--objective", "W",
                        "--model", str(path), "--out-dir", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("latentspin: error: ") and str(path) in lines[-1]
    assert not (tmp_path / "out" / "summary.json").exists()


# --- checkpoints ------------------------------------------------------------------------------


def test_a_checkpoint_is_resumed_only_if_whole_of_this_version_and_of_this_run(tmp_path, capsys):
    path = tmp_path / "checkpoint.pt"
    assert checkpoints.load_checkpoint(path, {"run": 1}, "training") is None  # none yet
    good = {"format": checkpoints.CHECKPOINT_FORMAT, "fingerprint": {"run": 1}, "epoch": 3}
    torch.save(good, path)
    assert checkpoints.load_checkpoint(path, {"run": 1}, "training")["epoch"] == 3
    cases = [("different", {"run": 2}, good), ("another version", {"run": 1}, {"fingerprint": {"run": 1}})]
    for said, fingerprint, saved in cases:
        torch.save(saved, path)
        assert checkpoints.load_checkpoint(path, fingerprint, "training") is None
        assert said in capsys.readouterr().err
    torch.save(good, path)
    path.write_bytes(path.read_bytes()[:100])
    assert checkpoints.load_checkpoint(path, {"run": 1}, "training") is None
    err = capsys.readouterr().err
    assert f"ignoring {path}: it cannot be read" in err and "the training starts afresh" in err


def test_training_with_an_unreadable_checkpoint_starts_afresh_and_ends_as_a_fresh_run(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(16, 3, 32, 32)).astype(np.float32)), dim=1)
    runs = []
    for name, garbage in (("fresh", None), ("damaged", b"not a checkpoint at all")):
        ck = tmp_path / f"{name}.pt"
        if garbage is not None:
            ck.write_bytes(garbage)
        torch.manual_seed(0)
        model = VAE(VAEConfig(L=32, **SMALL))
        tcfg = training.TrainConfig(beta=0.01, epochs=2, batch_size=8, seed=3)
        runs.append(training.fit(model, x, x[:8], tcfg, ck, {"data": 1}, progress=False))
    assert "it cannot be read" in capsys.readouterr().err
    np.testing.assert_array_equal(runs[0]["valid_rc"].to_numpy(), runs[1]["valid_rc"].to_numpy())
