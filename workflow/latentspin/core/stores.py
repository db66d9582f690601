"""The annealed datasets on disk: the data contract, atomic writes, and assembly of shards.

Data contract (docs/method.md, "Data contract"): ``results/data/{split}.zarr`` is an xarray
Dataset in Zarr with ``spins`` (sample, component, y, x) float32, finite unit vectors, per-sample
``energy`` (ε), ``W`` and ``Mz``, and attrs recording J, D, dmi, L, seed and the schedule. The
``sample`` coordinate is the global index k of the sample in its split. Every store is written to
a temporary path and renamed into place, so a killed job never leaves a store that looks
complete, with consolidated metadata, so that plain ``xarray.open_zarr(path)`` opens it.

Where data enter a stage (training, the VAE report and figures, X_IN of the figures and claims),
:func:`check_split` enforces the contract before any long work, and a violation stops the job
with a :class:`~latentspin.core.errors.DataError` naming the store, the first bad sample and what
is wrong; a store that cannot be read at all raises :class:`~latentspin.core.errors.DamagedFile`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr
import zarr
from tqdm import tqdm

from latentspin.core.errors import DamagedFile, DataError
from latentspin.core.io import atomic

CHUNK = 100  # samples per Zarr chunk: one training batch of the paper
# |S| = 1 within this: float32 unit vectors are within about 1e-7 of it, a damaged value far from it
SPIN_LENGTH_TOLERANCE = 1e-4
SPLIT_ATTRS = ("J", "D", "dmi", "L", "seed")
SPLIT_VARIABLES = ("energy", "W", "Mz")


def make_dataset(spins: np.ndarray, samples: Iterable[int], obs: Mapping[str, np.ndarray],
                 attrs: Mapping) -> xr.Dataset:
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
    with atomic(out) as tmp, consolidating():
        ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=True)
    return Path(out)


@contextmanager
def consolidating():
    """Consolidated metadata is an extension of Zarr format 3 that zarr-python warns about at every
    write; xarray and zarr-python read it, which is all the stores need."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        yield


def remake_hint(path: str | Path) -> str:
    """How a user makes an output anew: Snakemake reruns the job that writes it."""
    return f"make it anew with `snakemake --cores all --force {path}` (then rerun snakemake for what follows)"


def open_dataset(path: str | Path) -> xr.Dataset:
    """A store, lazily: its metadata read, its arrays when asked for. A store whose metadata
    cannot be read raises :class:`DamagedFile` naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    try:
        with warnings.catch_warnings():
            # a store written before the metadata was consolidated is read without it, and
            # Snakemake marks directory outputs with a file that is not part of the store
            warnings.filterwarnings("ignore", message="Failed to open Zarr store with consolidated metadata")
            warnings.filterwarnings("ignore", message="Object at .snakemake_timestamp")
            return xr.open_zarr(path)
    except Exception as e:  # noqa: BLE001 (whatever the store's damage, the user's remedy is the same)
        raise DamagedFile(f"{path}: the store cannot be opened ({_reason(e)}); {remake_hint(path)}") from None


def _reason(e: Exception) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"


def read_values(ds: xr.Dataset, name: str, path: str | Path, index=None) -> np.ndarray:
    """The values of variable `name` (optionally ``isel``-ed by `index`), or :class:`DamagedFile`
    naming the store when a chunk cannot be read (cut short, altered)."""
    try:
        var = ds[name] if index is None else ds[name].isel(index)
        return var.values
    except Exception as e:  # noqa: BLE001
        raise DamagedFile(f"{path}: variable {name} cannot be read ({_reason(e)}); {remake_hint(path)}") from None


def check_split(ds: xr.Dataset, path: str | Path, spins: np.ndarray | None = None, L: int | None = None) -> None:
    """The data contract of a split store (or of its first samples, given a slice of it as `ds`):
    the variables, their dimensions and the attributes it names; ``spins`` float32, finite and of
    unit length within SPIN_LENGTH_TOLERANCE at every site; ``energy``, ``W``, ``Mz`` finite; with
    `L`, the lattice the caller expects. `spins`: the spins already read (else read here, in
    chunks). Raises :class:`DataError` naming the store, the first bad sample (its index k in the
    split) and what is wrong."""
    def bad(what: str):
        return DataError(f"{path}: {what}; the store breaks the data contract (docs/method.md): {remake_hint(path)}")

    missing = [v for v in ("spins", *SPLIT_VARIABLES) if v not in ds.variables]
    if missing:
        raise bad(f"variables {missing} are missing")
    dims = ds["spins"].dims
    if dims != ("sample", "component", "y", "x") or ds.sizes["component"] != 3 or ds.sizes["y"] != ds.sizes["x"]:
        raise bad(f"spins have dimensions {dict(ds['spins'].sizes)}, not (sample, component = 3, y = L, x = L)")
    if ds["spins"].dtype != np.float32:
        raise bad(f"spins are {ds['spins'].dtype}, not float32")
    missing = [a for a in SPLIT_ATTRS if a not in ds.attrs]
    if missing:
        raise bad(f"attributes {missing} are missing")
    if ds.attrs["L"] != ds.sizes["x"] or (L is not None and ds.sizes["x"] != L):
        expected = f", the config's lattice.L is {L}" if L is not None else ""
        raise bad(f"spins are {ds.sizes['y']} x {ds.sizes['x']}, attribute L is {ds.attrs['L']}{expected}")
    samples = ds["sample"].values
    for name in SPLIT_VARIABLES:
        values = read_values(ds, name, path)
        if values.shape != samples.shape:
            raise bad(f"{name} has shape {values.shape}, not one value per sample ({len(samples)})")
        wrong = ~np.isfinite(values)
        if wrong.any():
            i = int(np.argmax(wrong))
            raise bad(f"sample {samples[i]}: {name} is {values[i]}")
    n, step = len(samples), 1000
    for start in range(0, n, step):
        chunk = (spins[start:start + step] if spins is not None
                 else read_values(ds, "spins", path, {"sample": slice(start, start + step)}))
        finite = np.isfinite(chunk).all(axis=1)
        length_error = np.abs(np.sqrt((chunk.astype(np.float64) ** 2).sum(axis=1)) - 1)
        wrong = ~finite | ~(length_error <= SPIN_LENGTH_TOLERANCE)
        if wrong.any():
            i, y, x = (int(v) for v in np.argwhere(wrong)[0])
            value = chunk[i, :, y, x]
            length = np.sqrt((value.astype(np.float64) ** 2).sum())
            what = ("is not finite" if not finite[i, y, x]
                    else f"has length {length:.6g}, not 1 within {SPIN_LENGTH_TOLERANCE:g}")
            raise bad(f"sample {samples[start + i]}: the spin at (y, x) = ({y}, {x}) {what} ({value.tolist()})")


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
            raise DataError(f"shard {path} differs from the others in {diff}")
    indices = np.concatenate([d["sample"].values for d in opened])
    expected = reference["samples_in_split"]
    if not np.array_equal(indices, np.arange(expected)):
        raise DataError(f"shards cover {len(indices)} samples, not exactly 0..{expected - 1}")
    L = reference["L"]
    encoding = {"spins": {"chunks": (min(CHUNK, expected), 3, L, L)}}
    with atomic(out) as tmp:
        for i, (ds, path) in enumerate(tqdm(pairs, desc=f"assemble {Path(out).name}", unit="shard",
                                            disable=not progress)):
            try:
                ds = ds.load().drop_encoding()  # one shard in memory at a time
            except Exception as e:  # noqa: BLE001
                raise DamagedFile(f"{path}: the shard cannot be read ({_reason(e)}); {remake_hint(path)}") from None
            check_split(ds, path, spins=ds["spins"].values)
            ds.attrs = dict(reference)
            if i == 0:
                ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False)
            else:
                ds.to_zarr(tmp, append_dim="sample", consolidated=False)
        with consolidating():
            zarr.consolidate_metadata(str(tmp))
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


def load_spins(path: str | Path, device="cpu", L: int | None = None):
    """A split's spins as one float32 torch tensor on `device`, and the dataset's attrs, once the
    store has passed :func:`check_split` (with `L`, the lattice the caller expects)."""
    import torch

    ds = open_dataset(path)
    spins = read_values(ds, "spins", path)
    check_split(ds, path, spins=spins, L=L)
    return torch.from_numpy(spins).to(device), dict(ds.attrs)
