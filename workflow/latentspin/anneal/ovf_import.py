"""A split from a folder of OVF 2.0 files instead of annealing (``data.{split}.ovf``, docs/ovf.md).

The files (*.ovf, *.omf, sorted by name; every segment of a file one sample, in the file's
order) become a split store with the data contract of an annealed one: ``spins`` (sample,
component, y, x) float32, per-sample ``energy`` (ε), ``W`` and ``Mz`` measured by
:func:`latentspin.anneal.shards.sample_observables` with the config's Hamiltonian, the physics
the split is used with. Its attrs: the Hamiltonian's, ``L``, ``seed`` (the config's master seed:
an import draws no random numbers, but the training that reads the split derives its streams from
it), ``split``, ``samples_in_split``, ``method`` (``imported from OVF 2.0``), ``source`` (the folder),
``source_files`` and ``source_segments`` (each file's name and number of samples, in sample
order), ``source_sha256`` (one SHA-256 of the files' names and contents) and the package version;
no annealing ``schedule``.

Every file is read and checked (:func:`latentspin.core.ovf.read_ovf`: format, L × L, unit spins)
before any observable is measured, so a bad file stops the job in seconds with one line naming
it; then the files are read again in batches of one Zarr chunk, measured and appended to the
store, which appears whole or not at all.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import zarr
from tqdm import tqdm

from latentspin import __version__
from latentspin.anneal.shards import sample_observables
from latentspin.core import ovf
from latentspin.core.errors import DataError
from latentspin.core.io import atomic
from latentspin.core.stores import CHUNK, check_split, consolidating, make_dataset
from latentspin.physics.hamiltonian import Hamiltonian

METHOD = "imported from OVF 2.0"


def scan(folder: str | Path, L: int, progress: bool = True) -> tuple[list[Path], list[int], list[str]]:
    """The OVF files of `folder`, each read and checked against the lattice L × L: the files,
    their numbers of samples (segments) and their SHA-256 digests."""
    files = ovf.ovf_files(folder)
    counts, digests = [], []
    for path in tqdm(files, desc=f"check {Path(folder).name}", unit="file", disable=not progress):
        data = path.read_bytes()
        counts.append(len(ovf.read_ovf(path, L=L, data=data)))
        digests.append(ovf.sha256(data))
    return files, counts, digests


def _states(files: list[Path], digests: list[str], L: int):
    """Every file's states again, in sample order, each file as it was when scanned."""
    for path, digest in zip(files, digests):
        data = path.read_bytes()
        if ovf.sha256(data) != digest:
            raise DataError(f"{path}: the file changed while the split was imported; rerun the import")
        yield from ovf.read_ovf(path, L=L, data=data)


def import_attrs(config: Mapping, split: str, folder: str | Path, files: list[Path], counts: list[int],
                 digests: list[str]) -> dict:
    """The attrs of an imported split (see the module's docstring)."""
    ham = Hamiltonian.from_config(config["hamiltonian"])
    names = [p.name for p in files]
    return {
        **ham.as_attrs(),
        "L": int(config["lattice"]["L"]),
        "seed": int(config["seed"]),
        "split": split,
        "samples_in_split": int(sum(counts)),
        "method": METHOD,
        "source": str(folder),
        "source_files": names,
        "source_segments": [int(c) for c in counts],
        "source_sha256": ovf.combined_digest(names, digests),
        "latentspin_version": __version__,
    }


def import_split(config: Mapping, folder: str | Path, out: str | Path, split: str = "train",
                 progress: bool = True) -> Path:
    """Write the OVF files of `folder` as the split store `out` (see the module's docstring)."""
    L = int(config["lattice"]["L"])
    ham = Hamiltonian.from_config(config["hamiltonian"])
    files, counts, digests = scan(folder, L, progress=progress)
    attrs = import_attrs(config, split, folder, files, counts, digests)
    n = attrs["samples_in_split"]
    encoding = {"spins": {"chunks": (min(CHUNK, n), 3, L, L)}}
    states = _states(files, digests, L)
    with atomic(out) as tmp, tqdm(total=n, desc=f"import {split}", unit="sample", disable=not progress) as bar:
        for start in range(0, n, CHUNK):
            spins = np.stack([next(states) for _ in range(min(CHUNK, n - start))]).astype(np.float32)
            ds = make_dataset(spins, range(start, start + len(spins)), sample_observables(spins, ham), attrs)
            check_split(ds, out, spins=spins, L=L)
            if start == 0:
                ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False)
            else:
                ds.to_zarr(tmp, append_dim="sample", consolidated=False)
            bar.update(len(spins))
        with consolidating():
            zarr.consolidate_metadata(str(tmp))
    if progress:
        print(f"import {split}: {n} samples of {len(files)} files in {folder} -> {out}", file=sys.stderr)
    return Path(out)
