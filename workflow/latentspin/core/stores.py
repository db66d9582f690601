"""The annealed datasets on disk: the data contract, atomic writes, and assembly of shards.

Data contract (docs/method.md, "Data contract"): ``results/data/{split}.zarr`` is an xarray Dataset in Zarr with
``spins`` (sample, component, y, x) float32, per-sample ``energy`` (ε), ``W`` and ``Mz``, and
attrs recording J, D, dmi, L, seed and the schedule. The ``sample`` coordinate is the global
index k of the sample in its split. Every store is written to a temporary path and renamed
into place, so a killed job never leaves a store that looks complete.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

from latentspin.core.io import atomic

CHUNK = 100  # samples per Zarr chunk: one training batch of the paper


def make_dataset(spins: np.ndarray, samples: Iterable[int], obs: Mapping[str, np.ndarray], attrs: Mapping) -> xr.Dataset:
    samples = np.asarray(list(samples), dtype=np.int64)
    data_vars = {"spins": xr.Variable(("sample", "component", "y", "x"), spins.astype(np.float32, copy=False),
                                      attrs={"components": "x y z", "description": "unit spins S(r)"})}
    descriptions = {"energy": "energy density H/N (units of J)", "W": "topological index (Berg-Luescher)",
                    "Mz": "mean S_z"}
    for name, values in obs.items():
        data_vars[name] = xr.Variable(("sample",), values, attrs={"description": descriptions.get(name, name)})
    ds = xr.Dataset(data_vars, coords={"sample": samples}, attrs=dict(attrs))
    return ds


def write_zarr(ds: xr.Dataset, out: str | Path) -> Path:
    """Write ds whole or not at all (:func:`latentspin.core.io.atomic`). A ``spins`` variable is
    chunked by CHUNK samples."""
    encoding = {}
    if "spins" in ds and "sample" in ds.dims:
        encoding["spins"] = {"chunks": (min(CHUNK, max(1, ds.sizes["sample"])), 3, ds.sizes["y"], ds.sizes["x"])}
    with atomic(out) as tmp:
        ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False)
    return Path(out)


def open_dataset(path: str | Path) -> xr.Dataset:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    with warnings.catch_warnings():  # Snakemake marks directory outputs with this file
        warnings.filterwarnings("ignore", message="Object at .snakemake_timestamp")
        return xr.open_zarr(path, consolidated=False)


def assemble(shards: Iterable[str | Path], out: str | Path, progress: bool = True) -> Path:
    """Concatenate shard stores into one split store, checking that they belong together
    (same physics and schedule) and cover samples 0..n-1 exactly once."""
    shards = [Path(s) for s in shards]
    if not shards:
        raise ValueError("assemble needs at least one shard")
    pairs = sorted(((open_dataset(s), s) for s in shards), key=lambda pair: int(pair[0]["sample"][0]))
    opened = [ds for ds, _ in pairs]
    shard_keys = ("shard", "shards")
    reference = {k: v for k, v in opened[0].attrs.items() if k not in shard_keys}
    for ds, path in pairs:
        attrs = {k: v for k, v in ds.attrs.items() if k not in shard_keys}
        if attrs != reference:
            diff = sorted(k for k in reference.keys() | attrs.keys() if reference.get(k) != attrs.get(k))
            raise ValueError(f"shard {path} differs from the others in {diff}")
    indices = np.concatenate([d["sample"].values for d in opened])
    expected = reference["samples_in_split"]
    if not np.array_equal(indices, np.arange(expected)):
        raise ValueError(f"shards cover {len(indices)} samples, not exactly 0..{expected - 1}")
    L = reference["L"]
    encoding = {"spins": {"chunks": (min(CHUNK, expected), 3, L, L)}}
    with atomic(out) as tmp:
        for i, ds in enumerate(tqdm(opened, desc=f"assemble {Path(out).name}", unit="shard", disable=not progress)):
            ds = ds.load().drop_encoding()  # one shard in memory at a time
            ds.attrs = dict(reference)
            if i == 0:
                ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False)
            else:
                ds.to_zarr(tmp, append_dim="sample", consolidated=False)
    return Path(out)


class StoreArrays(Mapping):
    """The variables, coordinates and attributes of a store as one read-only mapping of NumPy
    arrays and plain values, each variable read from disk when first asked for (then kept).

    What the figures and the claims read from a trajectory store: a figure that draws a few
    curves does not load the per-generation spins of a 10,000-generation search."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._ds = open_dataset(path)
        self._arrays = [*self._ds.data_vars, *self._ds.coords]
        self._loaded: dict = {}

    def __getitem__(self, key):
        if key in self._loaded:
            return self._loaded[key]
        if key in self._arrays:
            self._loaded[key] = self._ds[key].values
            return self._loaded[key]
        if key in self._ds.attrs:
            return self._ds.attrs[key]
        raise KeyError(f"{key!r} is not a variable, coordinate or attribute of {self.path}")

    def __iter__(self):
        yield from self._arrays
        yield from (k for k in self._ds.attrs if k not in self._arrays)

    def __len__(self) -> int:
        return len(set(self._arrays) | set(self._ds.attrs))


def load_arrays(path: str | Path) -> StoreArrays:
    """A store's arrays and attributes, read lazily: see `StoreArrays`."""
    return StoreArrays(path)


def load_spins(path: str | Path, device="cpu"):
    """A split's spins as one float32 torch tensor on `device`, and the dataset's attrs."""
    import torch

    ds = open_dataset(path)
    return torch.from_numpy(ds["spins"].values).to(device), dict(ds.attrs)
