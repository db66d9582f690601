"""The annealing stage's jobs: one shard of annealed samples with their observables, and the
summary that checks a split against the labyrinth physics it should show."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from latentspin import __version__
from latentspin.anneal.driver import anneal, kernel_description, select_kernel
from latentspin.anneal.schedule import Schedule
from latentspin.core.errors import ConfigError
from latentspin.core.io import write_json
from latentspin.core.seeds import sample_keys
from latentspin.core.stores import check_split, make_dataset, open_dataset, write_zarr
from latentspin.physics import hamiltonian, observables
from latentspin.physics.hamiltonian import Hamiltonian


def shard_range(n_samples: int, n_shards: int, shard: int) -> range:
    """Global sample indices of one shard; shards differ in size by at most one."""
    if not 0 <= shard < n_shards:
        raise ConfigError(f"shard {shard} out of range: the split has {n_shards} shards (0..{n_shards - 1})")
    return range(shard * n_samples // n_shards, (shard + 1) * n_samples // n_shards)


def sample_observables(spins: np.ndarray, ham: Hamiltonian) -> dict[str, np.ndarray]:
    """ε, W and Mz of each configuration (the data contract's per-sample variables)."""
    m = observables.measure(torch.from_numpy(np.asarray(spins)), ham)
    return {k: m[k].numpy() for k in ("energy", "W", "Mz")}


def dataset_attrs(config: Mapping, split: str, kernel: str = "numba", device: str = "cpu",
                  dtype: str = "float64") -> dict:
    """The attrs of a split's store; ``method`` names the kernel (and device) that annealed it, so
    that shards of different kernels are not assembled into one split."""
    schedule = Schedule.from_config(config["anneal"])
    return {
        **Hamiltonian.from_config(config["hamiltonian"]).as_attrs(),
        "L": int(config["lattice"]["L"]),
        "seed": int(config["seed"]),
        "split": split,
        "samples_in_split": int(config["data"][split]["samples"]),
        "schedule": json.dumps(schedule.as_dict()),
        "method": kernel_description(kernel, device, dtype),
        "latentspin_version": __version__,
    }


def anneal_shard(config: Mapping, split: str, shard: int, out: str | Path, threads: int | None = None,
                 progress: bool = True, device: str | None = None, kernel: str | None = None) -> Path:
    """Anneal one shard of a split and write it as a Zarr store.

    `device` (auto, cpu, cuda; default: the config's ``anneal.device``, else auto) picks the
    kernel as :func:`latentspin.anneal.driver.select_kernel` does; `kernel` overrides it (tests).
    """
    if split not in config["data"]:
        raise ConfigError(f"unknown split {split!r}; config data has {sorted(config['data'])}")
    spec = config["data"][split]
    samples = shard_range(spec["samples"], spec["shards"], shard)
    ham = Hamiltonian.from_config(config["hamiltonian"])
    schedule = Schedule.from_config(config["anneal"])
    keys = sample_keys(config["seed"], split, samples)
    kernel, device = select_kernel(config["anneal"].get("device", "auto") if device is None else device, kernel)
    gpu = config["anneal"].get("torch", {})
    dtype, compile = gpu.get("dtype", "float64"), gpu.get("compile", False)
    L = config["lattice"]["L"]
    start = time.perf_counter()
    with tqdm(total=len(samples), desc=f"anneal {split}/{shard}", unit="sample", disable=not progress,
              mininterval=2.0) as bar:
        spins = anneal(keys, L, ham, schedule, threads=threads, progress=bar.update,
                       device=device, kernel=kernel, dtype=dtype, compile=compile)
    seconds = time.perf_counter() - start
    attrs = dataset_attrs(config, split, kernel, device, dtype) | {"shard": shard, "shards": spec["shards"]}
    if progress:  # the job's log: its throughput, start-up and compilation included
        sweeps = schedule.sweeps + schedule.quench_sweeps
        print(f"anneal {split}/{shard}: {len(samples)} samples x {sweeps} sweeps at L = {L} in {seconds:.1f} s: "
              f"{len(samples) * sweeps * L * L / seconds:.3g} spin updates/s ({attrs['method']})", file=sys.stderr)
    return write_zarr(make_dataset(spins, samples, sample_observables(spins, ham), attrs), out)


def summarize(path: str | Path, max_wavelength_samples: int = 256, progress: bool = True) -> dict:
    """Statistics of a split against the physics it should show (labyrinths near the spiral
    ground state): mean ε and its gap to the lattice ground state, |Mz|, the dominant
    wavelength from the structure factor, and how close W is to an integer. In a field (B ≠ 0)
    the spiral is no ground state: the reference and the gap are None."""
    ds = open_dataset(path)
    check_split(ds.isel(sample=slice(0, max_wavelength_samples)), path)  # the samples it reads spins of
    ham = Hamiltonian.from_attrs(ds.attrs)
    L = int(ds.attrs["L"])
    # in a field the spiral is no ground state: no reference, and no gap to it
    n_gs, m_gs, eps_gs = hamiltonian.lattice_ground_state(L, ham) if ham.spiral_is_ground_state else (None,) * 3
    energy, W, Mz = (ds[k].values for k in ("energy", "W", "Mz"))
    n_wl = min(len(energy), max_wavelength_samples)
    wavelength, norm_error = [], 0.0
    for start in tqdm(range(0, n_wl, 64), desc="structure factors", unit="batch", disable=not progress):
        spins = ds["spins"][start : min(start + 64, n_wl)].values.astype(np.float64)
        with torch.no_grad():
            wavelength.append(observables.dominant_wavelength(torch.from_numpy(spins)).numpy())
        norm_error = max(norm_error, float(np.abs(np.linalg.norm(spins, axis=1) - 1).max()))
    wavelength = np.concatenate(wavelength)
    gap = float((energy.mean() - eps_gs) / abs(eps_gs)) if eps_gs is not None else None
    return {
        "path": str(path),
        "samples": int(len(energy)),
        "L": L,
        "B": ham.B,
        "energy_mean": float(energy.mean()),
        "energy_std": float(energy.std()),
        "energy_min": float(energy.min()),
        "energy_max": float(energy.max()),
        "ground_state": {"n": n_gs, "m": m_gs, "energy": eps_gs},
        "energy_gap_relative": gap,
        "abs_Mz_mean": float(np.abs(Mz).mean()),
        "wavelength_mean": float(wavelength.mean()),
        "wavelength_std": float(wavelength.std()),
        "wavelength_samples": n_wl,
        "spiral_period": float(2 * np.pi / np.arctan2(ham.D, ham.J)) if ham.D > 0 else float("inf"),
        "W_integer_deviation_max": float(np.abs(W - np.round(W)).max()),
        "W_nonzero_fraction": float(np.mean(np.round(W) != 0)),
        "W_abs_mean": float(np.abs(np.round(W)).mean()),
        "spin_norm_error_max": norm_error,  # over the samples of the wavelength estimate
    }


LABYRINTH_CRITERIA: dict[str, Callable[[dict], bool]] = {
    "mean energy within 2% of the lattice ground state": lambda s: s["energy_gap_relative"] < 0.02,
    "mean |Mz| below 0.05": lambda s: s["abs_Mz_mean"] < 0.05,
    "dominant wavelength 21 ± 3 sites": lambda s: abs(s["wavelength_mean"] - 21) <= 3,
    "W integer to 1e-6": lambda s: s["W_integer_deviation_max"] < 1e-6,
}


# what still applies in a field, where the samples are no labyrinths (skyrmion lattices, polarized states)
FIELD_CRITERIA = ("W integer to 1e-6",)


def labyrinth_checks(summary: Mapping) -> dict[str, bool]:
    """The criteria of labyrinths for paper-scale samples (L = 128, J = 1, D = 0.3, B = 0); in a
    field only those of :data:`FIELD_CRITERIA`."""
    names = LABYRINTH_CRITERIA if not summary.get("B") else FIELD_CRITERIA
    return {name: bool(LABYRINTH_CRITERIA[name](summary)) for name in names}


def write_summary(dataset: str | Path, out: str | Path | None = None, wavelength_samples: int = 256) -> dict:
    """:func:`summarize` a split with its :func:`labyrinth_checks`, written to `out` as JSON."""
    summary = summarize(dataset, max_wavelength_samples=wavelength_samples)
    summary["labyrinth_checks"] = labyrinth_checks(summary)
    if out:
        write_json(summary, out)
    return summary
