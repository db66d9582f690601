"""A folder of OVF files as a split (latentspin.anneal.ovf_import): the data contract of an annealed
split, energies measured with the config's Hamiltonian (checked against exact values), the
stages that read a split working on it, and bad files stopped before anything is written."""

import json
import math

import numpy as np
import pytest
from latentspin import cli
from latentspin.anneal.ovf_import import METHOD, import_split
from latentspin.core import config as cfg
from latentspin.core import ovf
from latentspin.core.errors import DataError
from latentspin.core.stores import load_spins, open_dataset

L = 32
J, D = 1.3, 0.4


def spiral_x(n: int) -> np.ndarray:
    """S(x) = (0, cos qx, sin qx), q = 2πn/L: a Bloch spiral along x (ε = -J(1 + cos q) - D sin q)."""
    phase = 2 * np.pi * n * np.arange(L) / L
    return np.stack([np.zeros((L, L)), np.tile(np.cos(phase), (L, 1)), np.tile(np.sin(phase), (L, 1))])


def spiral_y(n: int) -> np.ndarray:
    """S(y) = (sin qy, 0, cos qy): a Bloch spiral along y, ŷ·(S_i × S_j) = sin q."""
    phase = 2 * np.pi * n * np.arange(L) / L
    return np.stack([np.tile(np.sin(phase)[:, None], (1, L)), np.zeros((L, L)),
                     np.tile(np.cos(phase)[:, None], (1, L))])


def two_segments(path, first, second):
    """One file holding two states, as Spirit writes a chain."""
    blocks = [ovf.format_ovf(s, "binary8").decode("latin-1") for s in (first, second)]
    body = "".join(b[b.index("# Begin: Segment"):] for b in blocks)
    path.write_bytes(("# OOMMF OVF 2.0\n# Segment count: 2\n" + body).encode("latin-1"))


def exact(n: int, dmi: str) -> float:
    """ε of the spirals above: the Bloch DMI lowers it by D sin q; for Néel vectors the bonds'
    D ẑ × r̂ is perpendicular to these rotation planes' normals, so the DMI term vanishes."""
    q = 2 * np.pi * n / L
    return -J * (1 + math.cos(q)) - (D * math.sin(q) if dmi == "bloch" else 0.0)


@pytest.fixture
def folder(tmp_path):
    """Known states: uniform +z (file a), a spiral along x in text (file b), then spirals along
    y and x in one file of two segments (file c)."""
    d = tmp_path / "ovf"
    d.mkdir()
    uniform = np.zeros((3, L, L))
    uniform[2] = 1
    ovf.write_ovf(d / "a_uniform.ovf", uniform.astype(np.float32))
    ovf.write_ovf(d / "b_spiral.ovf", spiral_x(2).astype(np.float32), "text")
    two_segments(d / "c_chain.ovf", spiral_y(1), spiral_x(3))
    (d / "notes.txt").write_text("not an OVF file: left alone")
    return d


def config(tiny_config, dmi="bloch"):
    return cfg.merge(tiny_config, {"hamiltonian": {"J": J, "D": D, "dmi": dmi}, "seed": 11})


@pytest.mark.parametrize("dmi", ["bloch", "neel"])
def test_an_imported_split_holds_the_exact_energies_of_its_states(tiny_config, folder, tmp_path, dmi):
    out = import_split(config(tiny_config, dmi), folder, tmp_path / "train.zarr", progress=False)
    ds = open_dataset(out)
    assert list(ds["sample"].values) == [0, 1, 2, 3]
    expected = [-2 * J, exact(2, dmi), exact(1, dmi), exact(3, dmi)]
    assert np.abs(ds["energy"].values - expected).max() < 1e-6  # float32 spins
    assert np.abs(ds["W"].values).max() < 1e-9
    assert np.allclose(ds["Mz"].values, [1, 0, 0, 0], atol=1e-6)
    # the spins are the files' values in float32, in file then segment order
    assert np.array_equal(ds["spins"].values[1], spiral_x(2).astype(np.float32))
    assert np.array_equal(ds["spins"].values[2], spiral_y(1).astype(np.float32))
    assert np.array_equal(ds["spins"].values[3], spiral_x(3).astype(np.float32))


def test_an_imported_split_records_its_physics_and_its_files(tiny_config, folder, tmp_path):
    out = import_split(config(tiny_config), folder, tmp_path / "valid.zarr", split="valid", progress=False)
    attrs = dict(open_dataset(out).attrs)
    assert (attrs["J"], attrs["D"], attrs["dmi"], attrs["L"], attrs["seed"]) == (J, D, "bloch", L, 11)
    assert attrs["split"] == "valid" and attrs["samples_in_split"] == 4 and attrs["method"] == METHOD
    assert attrs["source"] == str(folder)
    assert attrs["source_files"] == ["a_uniform.ovf", "b_spiral.ovf", "c_chain.ovf"]
    assert attrs["source_segments"] == [1, 1, 2]
    assert "schedule" not in attrs
    again = import_split(config(tiny_config), folder, tmp_path / "again.zarr", progress=False)
    assert open_dataset(again).attrs["source_sha256"] == attrs["source_sha256"]
    ovf.write_ovf(folder / "b_spiral.ovf", spiral_x(1).astype(np.float32))  # another state under the same name
    changed = import_split(config(tiny_config), folder, tmp_path / "changed.zarr", progress=False)
    assert open_dataset(changed).attrs["source_sha256"] != attrs["source_sha256"]


@pytest.mark.filterwarnings("ignore:invalid value encountered in subtract")  # a uniform state has no wavelength
def test_the_stages_that_read_a_split_read_an_imported_one(tiny_config, folder, tmp_path):
    from latentspin.anneal.shards import write_summary
    from latentspin.figures import data_samples
    from latentspin.figures.inputs import x_in

    out = import_split(config(tiny_config), folder, tmp_path / "train.zarr", progress=False)
    spins, attrs = load_spins(out, L=L)  # training and the VAE report
    assert tuple(spins.shape) == (4, 3, L, L) and attrs["D"] == D
    assert np.allclose(x_in(out, 2)["energy"], [-2 * J, exact(2, "bloch")])  # X_IN of the figures and claims
    summary = write_summary(out, tmp_path / "summary.json", wavelength_samples=4)
    assert summary["samples"] == 4 and summary["labyrinth_checks"]["W integer to 1e-6"]
    data_samples.draw(out, [tmp_path / "samples.png"], n=4, ncols=2, dpi=40)
    assert (tmp_path / "samples.png").stat().st_size > 1000


def test_a_bad_file_stops_the_import_before_anything_is_written(tiny_config, folder, tmp_path):
    spins = spiral_x(1)
    spins[:, 4, 7] *= 1.01
    ovf.write_ovf(folder / "d_bad.ovf", spins)
    out = tmp_path / "train.zarr"
    with pytest.raises(DataError, match=rf"^{folder / 'd_bad.ovf'}: node \(x, y, z\) = \(7, 4, 0\)"):
        import_split(config(tiny_config), folder, out, progress=False)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
    ovf.write_ovf(folder / "d_bad.ovf", np.stack([np.zeros((16, 16)), np.zeros((16, 16)), np.ones((16, 16))]))
    with pytest.raises(DataError, match=r"d_bad\.ovf: the mesh is 16 x 16 nodes, the config's lattice\.L is 32"):
        import_split(config(tiny_config), folder, out, progress=False)


def test_export_then_import_through_the_command_line_gives_the_same_split(tiny_config, folder, tmp_path, capsys):
    conf = json.dumps(cfg.subset(config(tiny_config), cfg.IMPORT_SECTIONS))
    first, second = tmp_path / "first.zarr", tmp_path / "second.zarr"
    assert cli.main(["import-ovf", str(folder), "--config", conf, "--out", str(first)]) == 0
    assert cli.main(["export-ovf", str(first), "--out", str(tmp_path / "exported")]) == 0
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == [f"first_{k:06d}.ovf" for k in range(4)]
    assert cli.main(["import-ovf", str(tmp_path / "exported"), "--config", conf, "--out", str(second)]) == 0
    a, b = open_dataset(first), open_dataset(second)
    assert np.array_equal(a["spins"].values, b["spins"].values)  # binary 8: bitwise
    assert np.array_equal(a["energy"].values, b["energy"].values)
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["import-ovf", str(empty), "--config", conf, "--out", str(tmp_path / "x.zarr")]) == 2
    err = capsys.readouterr().err
    assert err == f"latentspin: error: {empty}: the folder holds no OVF files (*.ovf, *.omf)\n"


def test_training_names_imported_splits_by_their_files(tiny_config, folder, tmp_path, monkeypatch):
    """A training checkpoint is resumed only by a run of the same fingerprint: for an imported
    split, that holds its files' digest (its seed and absent schedule say nothing of them)."""
    import pandas as pd
    from latentspin.vae import training

    conf = config(tiny_config)
    train = import_split(conf, folder, tmp_path / "train.zarr", progress=False)
    ovf.write_ovf(folder / "b_spiral.ovf", spiral_x(1).astype(np.float32))
    valid = import_split(conf, folder, tmp_path / "valid.zarr", split="valid", progress=False)
    seen = {}

    def fit(model, train_x, valid_x, tcfg, checkpoint, fingerprint, **kwargs):
        seen.update(fingerprint)
        return pd.DataFrame({"epoch": []})

    monkeypatch.setattr(training, "fit", fit)
    training.train_beta(conf, 0.001, train, valid, tmp_path / "vae", device="cpu", progress=False)
    digests = [open_dataset(p).attrs["source_sha256"] for p in (train, valid)]
    assert digests[0] != digests[1]
    assert [seen["train_source_sha256"], seen["valid_source_sha256"]] == digests
