"""data.{split}.ovf through Snakemake: the split is imported from its folder instead of annealed,
the other split's annealing is untouched, and changing the folder's files reruns the import."""

import re

import numpy as np
import pytest
from conftest import dry_run_jobs
from conftest import run_snakemake as snakemake
from latentspin.anneal.ovf_import import METHOD
from latentspin.core import ovf
from latentspin.core.stores import open_dataset

pytestmark = pytest.mark.slow

L = 32  # the smoke preset's lattice


def state(n: int) -> np.ndarray:
    phase = 2 * np.pi * n * np.arange(L) / L
    return np.stack([np.zeros((L, L)), np.tile(np.cos(phase), (L, 1)), np.tile(np.sin(phase), (L, 1))]).astype(
        np.float32)


def test_a_split_with_ovf_set_is_imported_instead_of_annealed(root, tmp_path):
    folder = tmp_path / "my_states"
    folder.mkdir()
    for n in range(3):
        ovf.write_ovf(folder / f"s{n}.ovf", state(n + 1))
    imported = tmp_path / "imported.yaml"
    imported.write_text("data: {train: {ovf: my_states}}\n")  # relative to the working directory
    targets = ("results/data/train.zarr", "results/data/valid.zarr")

    r, _ = snakemake(root, tmp_path, *targets, extra=("-n", "-p"), configfiles=[imported])
    out = r.stdout + r.stderr
    assert dry_run_jobs(out) == {"import_split": 1, "anneal_shard": 1, "assemble_split": 1}
    assert "results/data/shards/train" not in out and "latentspin import-ovf my_states" in out
    valid_anneal = re.search(r"python -m latentspin anneal .*--split valid.*", out)[0]
    r, _ = snakemake(root, tmp_path, *targets, extra=("-n", "-p"))
    plain = r.stdout + r.stderr
    assert dry_run_jobs(plain) == {"anneal_shard": 3, "assemble_split": 2}  # the smoke preset's 2 + 1 shards
    assert valid_anneal in plain  # the valid split's job is the same: importing train reruns none of it

    snakemake(root, tmp_path, "results/data/train.zarr", configfiles=[imported])
    ds = open_dataset(tmp_path / "results/data/train.zarr")
    assert ds.attrs["method"] == METHOD and ds.attrs["source_files"] == ["s0.ovf", "s1.ovf", "s2.ovf"]
    assert np.array_equal(ds["spins"].values[2], state(3))
    r, _ = snakemake(root, tmp_path, "results/data/train.zarr", extra=("-n",), configfiles=[imported])
    assert "Nothing to be done" in r.stdout + r.stderr

    ovf.write_ovf(folder / "s1.ovf", state(5))  # a changed file, and one more
    ovf.write_ovf(folder / "s3.ovf", state(4))
    r, _ = snakemake(root, tmp_path, "results/data/train.zarr", extra=("-n",), configfiles=[imported])
    out = r.stdout + r.stderr
    assert dry_run_jobs(out) == {"import_split": 1}
    assert re.search(r"reason: Updated input files: my_states/s[13]\.ovf, my_states/s[13]\.ovf", out)

    for f in folder.iterdir():
        f.unlink()
    r, _ = snakemake(root, tmp_path, "results/data/train.zarr", extra=["-n"], configfiles=[imported], timeout=120,
                     check=False)
    assert r.returncode != 0
    assert "config key data.train.ovf: my_states: the folder holds no OVF files" in r.stdout + r.stderr
