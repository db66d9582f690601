"""The data contract of the annealing stage: shards, assembly, reproducibility, atomic writes."""

import errno
import json

import numpy as np
import pytest
import torch
import xarray as xr
from latentspin.anneal import shards as anneal_jobs
from latentspin.core import config as cfg
from latentspin.core import stores
from latentspin.core.errors import DiskFull
from latentspin.physics import observables
from latentspin.physics.hamiltonian import Hamiltonian


@pytest.mark.parametrize("n, shards", [(10, 1), (10, 3), (10, 10), (30000, 60), (7, 4)])
def test_shards_partition_the_split(n, shards):
    ranges = [anneal_jobs.shard_range(n, shards, s) for s in range(shards)]
    assert [k for r in ranges for k in r] == list(range(n))
    sizes = [len(r) for r in ranges]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_shard_out_of_range():
    with pytest.raises(cfg.ConfigError, match="shard 3"):
        anneal_jobs.shard_range(10, 3, 3)


def build_split(config, split, shards, tmp_path, tag):
    config = cfg.merge(config, {"data": {split: {"shards": shards}}})
    paths = [anneal_jobs.anneal_shard(config, split, s, tmp_path / f"{tag}-{s}.zarr", threads=2, progress=False)
             for s in range(shards)]
    return stores.assemble(paths[::-1], tmp_path / f"{tag}.zarr", progress=False)  # any order


def test_dataset_contract_and_shard_invariance(tiny_config, tmp_path):
    """The assembled store has the contract's variables and attrs, its observables are the
    physics module's, and sample k is bitwise the same from 1 shard, from 4 shards, and on rerun."""
    one = stores.open_dataset(build_split(tiny_config, "train", 1, tmp_path, "one"))
    four = stores.open_dataset(build_split(tiny_config, "train", 4, tmp_path, "four"))
    again = stores.open_dataset(build_split(tiny_config, "train", 1, tmp_path, "again"))

    assert one["spins"].dims == ("sample", "component", "y", "x")
    assert one["spins"].dtype == np.float32 and one["spins"].shape == (6, 3, 32, 32)
    np.testing.assert_array_equal(one["sample"].values, np.arange(6))
    for key in ("J", "D", "dmi", "L", "seed", "schedule"):
        assert key in one.attrs
    assert json.loads(one.attrs["schedule"])["sweeps"] == 40
    assert "shard" not in one.attrs

    for other in (four, again):
        np.testing.assert_array_equal(other["spins"].values, one["spins"].values)
        for k in ("energy", "W", "Mz"):
            np.testing.assert_array_equal(other[k].values, one[k].values)

    spins = torch.from_numpy(one["spins"].values).double()
    ham = Hamiltonian(1.0, 0.3, "bloch")
    np.testing.assert_allclose(one["energy"].values, observables.energy_density(spins, ham).numpy(), atol=1e-12)
    np.testing.assert_allclose(one["W"].values, observables.topological_index(spins).numpy(), atol=1e-12)
    np.testing.assert_allclose(one["Mz"].values, observables.magnetization_z(spins).numpy(), atol=1e-12)


def test_splits_differ(tiny_config, tmp_path):
    t = anneal_jobs.anneal_shard(tiny_config, "train", 0, tmp_path / "t.zarr", progress=False)
    v = anneal_jobs.anneal_shard(tiny_config, "valid", 0, tmp_path / "v.zarr", progress=False)
    a, b = stores.open_dataset(t)["spins"][:2].values, stores.open_dataset(v)["spins"].values
    assert not np.array_equal(a, b)


def test_assemble_refuses_foreign_or_missing_shards(tiny_config, tmp_path):
    config = cfg.merge(tiny_config, {"data": {"train": {"shards": 2}}})
    s0 = anneal_jobs.anneal_shard(config, "train", 0, tmp_path / "s0.zarr", progress=False)
    with pytest.raises(ValueError, match="not exactly"):
        stores.assemble([s0], tmp_path / "out.zarr", progress=False)
    other = cfg.merge(config, {"hamiltonian": {"D": 0.2}})
    s1 = anneal_jobs.anneal_shard(other, "train", 1, tmp_path / "s1.zarr", progress=False)
    with pytest.raises(ValueError, match=r"s1\.zarr differs from the others in \['D'"):
        stores.assemble([s1, s0], tmp_path / "out.zarr", progress=False)  # the message names the odd shard
    assert not (tmp_path / "out.zarr").exists()


def test_failed_write_keeps_existing_output(tiny_config, tmp_path, monkeypatch):
    """A write that dies half way (here: the disk is full) leaves the previous store intact and no
    partial one, and says so in one line."""
    out = anneal_jobs.anneal_shard(tiny_config, "valid", 0, tmp_path / "v.zarr", progress=False)
    before = stores.open_dataset(out)["spins"].values.copy()

    real_to_zarr = xr.Dataset.to_zarr

    def broken(self, store, **kwargs):
        real_to_zarr(xr.Dataset({"half": ("a", np.zeros(3))}), store, mode="w", consolidated=False)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_zarr", broken)
    with pytest.raises(DiskFull, match=r"v\.zarr: no space left on the device while writing it \(the previous v\.zarr is kept"):
        anneal_jobs.anneal_shard(tiny_config, "valid", 0, out, progress=False)
    np.testing.assert_array_equal(stores.open_dataset(out)["spins"].values, before)
    with pytest.raises(DiskFull, match=r"no new\.zarr was written"):
        anneal_jobs.anneal_shard(tiny_config, "valid", 0, tmp_path / "new.zarr", progress=False)
    assert not (tmp_path / "new.zarr").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_summary_reports_the_labyrinth_statistics(tiny_config, tmp_path):
    out = build_split(tiny_config, "train", 2, tmp_path, "s")
    s = anneal_jobs.summarize(out)
    assert s["samples"] == 6 and s["L"] == 32
    assert s["ground_state"]["energy"] < s["energy_mean"] < 0
    assert s["W_integer_deviation_max"] < 1e-6 and s["spin_norm_error_max"] < 1e-6
    checks = anneal_jobs.labyrinth_checks(s)
    assert set(checks) == set(anneal_jobs.LABYRINTH_CRITERIA)
    assert checks["W integer to 1e-6"]


def test_store_arrays_read_each_variable_only_when_asked(tmp_path):
    ds = xr.Dataset({"big": (("step", "x"), np.arange(12.0).reshape(4, 3)), "small": ("step", np.arange(4))},
                    coords={"step": np.arange(4) * 10}, attrs={"objective": "W", "maximize": 1})
    stores.write_zarr(ds, tmp_path / "run.zarr")
    arrays = stores.load_arrays(tmp_path / "run.zarr")
    assert set(arrays) == {"big", "small", "step", "objective", "maximize"} and len(arrays) == 5
    assert not arrays._loaded  # opening reads no variable
    np.testing.assert_array_equal(arrays["small"], np.arange(4))
    assert set(arrays._loaded) == {"small"}
    np.testing.assert_array_equal(arrays["step"], np.arange(4) * 10)
    assert arrays["objective"] == "W" and arrays.get("missing") is None and "big" in arrays
    with pytest.raises(KeyError, match="'missing' is not a variable"):
        arrays["missing"]


def test_store_records_the_kernel_and_kernels_do_not_mix(tiny_config, tmp_path):
    """A shard's method attr names the kernel that annealed it (numba on anneal.device cpu; the
    torch kernel here on CPU tensors, as on a GPU, with its dtype), and assembly refuses to mix them."""
    config = cfg.merge(tiny_config, {"data": {"valid": {"shards": 2}},
                                     "anneal": {"device": "cpu", "torch": {"dtype": "float32", "compile": False}}})
    s0 = anneal_jobs.anneal_shard(config, "valid", 0, tmp_path / "s0.zarr", progress=False)
    s1 = anneal_jobs.anneal_shard(config, "valid", 1, tmp_path / "s1.zarr", progress=False, kernel="torch")
    a, b = stores.open_dataset(s0), stores.open_dataset(s1)
    assert "(numba kernel, float64)" in a.attrs["method"]
    assert "(torch kernel, float32 on cpu)" in b.attrs["method"]
    spins = torch.from_numpy(b["spins"].values).double()
    np.testing.assert_allclose(b["energy"].values, observables.energy_density(spins, Hamiltonian()).numpy(), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(b["spins"].values, axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"s1\.zarr differs from the others in \['method'\]"):
        stores.assemble([s0, s1], tmp_path / "out.zarr", progress=False)
