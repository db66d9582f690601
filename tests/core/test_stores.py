"""The data contract where data enter a stage: bad stores stop with the store, the first bad sample
and what is wrong; damaged stores with the store and the remedy; good stores open quietly."""

import shutil
import warnings

import numpy as np
import pytest
import xarray as xr
from latentspin.core.errors import DamagedFile, DataError
from latentspin.core.stores import (
    SPIN_LENGTH_TOLERANCE,
    assemble,
    load_spins,
    make_dataset,
    open_dataset,
    write_zarr,
)
from latentspin.figures.inputs import x_in

L = 8


def spiral_store(path, n=6, first=0, total=None, **changes):
    """n unit-spin states (spirals of different phases) with their ε, W, Mz and the contract's attrs."""
    x = np.arange(L)
    phase = np.arange(first, first + n)[:, None, None] * 0.3 + 2 * np.pi * x[None, None, :] / L
    spins = np.stack([np.cos(phase) * np.ones((1, L, 1)), np.sin(phase) * np.ones((1, L, 1)),
                      np.zeros((n, L, L))], axis=1).astype(np.float32)
    obs = {"energy": np.full(n, -1.9), "W": np.zeros(n), "Mz": np.zeros(n)}
    attrs = {"J": 1.0, "D": 0.3, "dmi": "bloch", "L": L, "seed": 1, "samples_in_split": total or n}
    for key, value in changes.items():
        if key == "spins":
            spins = value(spins)
        elif key in obs:
            obs[key] = value(obs[key])
        else:
            attrs = value(attrs)
    return write_zarr(make_dataset(spins, range(first, first + n), obs, attrs), path)


def test_a_good_store_loads_and_opens_quietly_with_plain_xarray(tmp_path):
    path = spiral_store(tmp_path / "good.zarr")
    spins, attrs = load_spins(path)
    assert spins.shape == (6, 3, L, L) and attrs["L"] == L
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback from consolidated metadata, no foreign object
        ds = xr.open_zarr(path)
    np.testing.assert_array_equal(ds["spins"].values, spins.numpy())


def test_an_assembled_split_opens_quietly_with_plain_xarray(tmp_path):
    shards = [spiral_store(tmp_path / f"s{k}.zarr", n=3, first=3 * k, total=6) for k in range(2)]
    out = assemble(shards, tmp_path / "split.zarr", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(out)
    assert list(ds["sample"].values) == list(range(6))


def nan_at(sample, y, x):
    def put(spins):
        spins[sample, 1, y, x] = np.nan
        return spins
    return put


@pytest.mark.parametrize("change, message", [
    (dict(spins=nan_at(4, 2, 5)), r"sample 4: the spin at \(y, x\) = \(2, 5\) is not finite"),
    (dict(spins=lambda s: s * np.where(np.arange(6) == 3, 1.5, 1.0)[:, None, None, None].astype(np.float32)),
     r"sample 3: the spin at \(y, x\) = \(0, 0\) has length 1.5, not 1 within"),
    (dict(energy=lambda e: np.where(np.arange(6) == 2, np.inf, e)), r"sample 2: energy is inf"),
    (dict(attrs=lambda a: {k: v for k, v in a.items() if k != "seed"}), r"attributes \['seed'\] are missing"),
    (dict(attrs=lambda a: a | {"L": 16}), r"spins are 8 x 8, attribute L is 16"),
])
def test_a_store_that_breaks_the_contract_is_refused_naming_store_sample_and_fault(tmp_path, change, message):
    path = spiral_store(tmp_path / "bad.zarr", **change)
    with pytest.raises(DataError, match=message) as e:
        load_spins(path)
    assert str(path) in str(e.value) and "--force" in str(e.value)


def test_the_length_tolerance_accepts_float32_unit_vectors_and_not_more(tmp_path):
    """A spin off by less than the tolerance passes, one off by twice it does not."""
    inside = spiral_store(tmp_path / "in.zarr", spins=lambda s: s * np.float32(1 + SPIN_LENGTH_TOLERANCE / 2))
    load_spins(inside)
    outside = spiral_store(tmp_path / "out.zarr", spins=lambda s: s * np.float32(1 + 2 * SPIN_LENGTH_TOLERANCE))
    with pytest.raises(DataError, match="sample 0"):
        load_spins(outside)


def test_float64_spins_or_a_missing_variable_are_refused(tmp_path):
    path = spiral_store(tmp_path / "s.zarr")
    ds = open_dataset(path).load()
    ds["spins"] = ds["spins"].astype(np.float64)
    write_zarr(ds, tmp_path / "f64.zarr")
    with pytest.raises(DataError, match="spins are float64, not float32"):
        load_spins(tmp_path / "f64.zarr")
    write_zarr(open_dataset(path).load().drop_vars("W"), tmp_path / "noW.zarr")
    with pytest.raises(DataError, match=r"variables \['W'\] are missing"):
        load_spins(tmp_path / "noW.zarr")


def test_x_in_checks_the_samples_it_takes_and_only_those(tmp_path):
    """X_IN is the first n samples: a NaN among them stops the figure or claim; one after them is
    never read into it."""
    path = spiral_store(tmp_path / "train.zarr", spins=nan_at(4, 0, 0))
    assert x_in(path, 4)["energy"].shape == (4,)
    with pytest.raises(DataError, match="sample 4"):
        x_in(path, 5)


def test_a_damaged_chunk_names_the_store_and_the_variable(tmp_path):
    path = spiral_store(tmp_path / "d.zarr")
    chunk = next(p for p in (path / "spins").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(chunk.read_bytes()[: len(chunk.read_bytes()) // 2])
    with pytest.raises(DamagedFile, match=r"d\.zarr: variable spins cannot be read .*--force"):
        load_spins(path)


def test_a_store_whose_metadata_is_cut_short_cannot_be_opened(tmp_path):
    path = spiral_store(tmp_path / "m.zarr")
    meta = path / "zarr.json"
    meta.write_text(meta.read_text()[:40])
    with pytest.raises(DamagedFile, match=r"m\.zarr: the store cannot be opened"):
        open_dataset(path)


def test_assembly_refuses_a_bad_shard_and_leaves_no_split(tmp_path):
    good = spiral_store(tmp_path / "s0.zarr", n=3, total=6)
    bad = spiral_store(tmp_path / "s1.zarr", n=3, first=3, total=6, spins=nan_at(1, 0, 0))
    with pytest.raises(DataError, match=r"s1\.zarr: sample 4"):
        assemble([good, bad], tmp_path / "split.zarr", progress=False)
    assert not (tmp_path / "split.zarr").exists() and not list(tmp_path.glob(".split.zarr*"))
    shutil.rmtree(bad)


def test_a_store_of_another_lattice_than_the_configs_is_refused(tmp_path):
    """What training asks of both splits: the config's lattice.L."""
    path = spiral_store(tmp_path / "s.zarr")
    load_spins(path, L=L)
    with pytest.raises(DataError, match=r"spins are 8 x 8, attribute L is 8, the config's lattice\.L is 16"):
        load_spins(path, L=16)
