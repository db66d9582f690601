"""Spirit, the atomistic spin code (spirit-code, Forschungszentrum Jülich), as the external truth of our
Hamiltonian: our states loaded into Spirit with our J, |D|, DMI type and field, its energy per spin
against our ε, site by site against our local energy map.

The mapping (each found by a wrong choice giving a visibly wrong number):
- Spirit's Heisenberg Hamiltonian of nearest neighbours on a simple cubic lattice of L × L × 1
  cells, periodic in x and y: `jij` = J and `dij` = |D| (each pair counted once, half of its energy
  given to each spin, as our local map does), energies in meV read as units of J.
- Chirality: Spirit's `dm_chirality 1` (D_ij along the bond) is our Bloch; its `2` is r̂ × ẑ, the
  opposite of our Néel (ẑ × r̂), so ours is its `-2`.
- Field: Spirit's Zeeman term is -μ_s μ_B B·S with B in tesla; with μ_s = 1 our B (in units of J)
  is Spirit's B / μ_B, μ_B = 0.057883817555 meV/T as Spirit defines it.
- Spin order: Spirit's index is x + L y, so our (3, L, L)[k, y, x] is `transpose(1, 2, 0)`.
- Energies are read in double precision from the per-spin energy file Spirit writes (OVF 2.0,
  binary 8, whose first of four columns is the total): the Python getter returns a float32-rounded
  value and the setters of J and D take float32, so a config file carries the parameters.

Run as a script (``python tests/physics/test_spirit.py``) it prints the comparison table of
docs/method.md. The tests skip, naming the reason, where the `spirit` package is not installed (it
comes with the test extras on x86-64; it has no wheel for Linux on ARM).
"""

from __future__ import annotations

import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

try:
    from spirit import configuration, constants, io, state, system  # noqa: F401
except ImportError:  # pragma: no cover - where spirit cannot be installed
    if __name__ != "__main__":
        pytest.skip("the spirit package (Spirit 2.2, with the test extras on x86-64) is not installed",
                    allow_module_level=True)
    raise

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow"))

from latentspin.anneal.driver import anneal  # noqa: E402
from latentspin.anneal.schedule import Schedule  # noqa: E402
from latentspin.core.seeds import sample_keys  # noqa: E402
from latentspin.physics import hamiltonian, observables  # noqa: E402
from latentspin.physics.hamiltonian import Hamiltonian  # noqa: E402
from latentspin.physics.textures import skyrmion, spiral  # noqa: E402

L = 64
HAMS = [Hamiltonian(1.0, 0.3, "bloch"), Hamiltonian(1.0, 0.3, "neel"), Hamiltonian(1.0, 0.3, "bloch", B=0.06),
        Hamiltonian(1.0, 0.3, "neel", B=0.06), Hamiltonian(0.7, 0.45, "bloch", B=0.25)]


def spirit_config(ham: Hamiltonian, L: int) -> str:
    chirality = {"bloch": 1, "neel": -2}[ham.dmi]
    return "\n".join([
        "hamiltonian heisenberg_neighbours", "bravais_lattice sc", f"n_basis_cells {L} {L} 1",
        "boundary_conditions 1 1 0", "mu_s 1.0",
        f"external_field_magnitude {ham.B / constants.mu_B!r}", "external_field_normal 0.0 0.0 1.0",
        "anisotropy_magnitude 0.0", "anisotropy_normal 0.0 0.0 1.0", "ddi_method 0",
        "n_shells_exchange 1", f"jij {ham.J!r}", "n_shells_dmi 1", f"dij {abs(ham.D)!r}",
        f"dm_chirality {chirality if ham.D >= 0 else -chirality}", "log_to_console 0", "log_to_file 0", ""])


def read_energy_per_spin(path: Path) -> np.ndarray:
    """The total energy of each spin (first of Spirit's value columns) from its OVF 2.0 binary 8 file."""
    raw = path.read_bytes()
    marker = b"# Begin: Data Binary 8\n"
    start = raw.index(marker) + len(marker)
    header = raw[:start].decode()
    assert np.frombuffer(raw[start:start + 8], "<f8")[0] == 123456789012345.0  # the format's check value
    n = int(re.search(r"xnodes: (\d+)", header)[1]) * int(re.search(r"ynodes: (\d+)", header)[1])
    columns = int(re.search(r"valuedim: (\d+)", header)[1])
    assert "valuelabels: Total" in header
    return np.frombuffer(raw[start + 8:start + 8 + 8 * n * columns], "<f8").reshape(n, columns)[:, 0].copy()


@contextmanager
def _inside(folder: Path):
    before = os.getcwd()
    os.chdir(folder)  # Spirit writes nothing in quiet mode; should it, it writes here
    try:
        yield
    finally:
        os.chdir(before)


def spirit_energies(spins: torch.Tensor, ham: Hamiltonian, folder: Path) -> np.ndarray:
    """Spirit's energy of each spin (L * L, in Spirit's order x + L y) for our (3, L, L) state."""
    L = spins.shape[-1]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input.cfg").write_text(spirit_config(ham, L))
    with _inside(folder), state.State("input.cfg", quiet=True) as p:
        system.get_spin_directions(p)[:] = spins.double().numpy().transpose(1, 2, 0).reshape(-1, 3)
        system.update_data(p)
        io.image_write_energy_per_spin(p, "energy.ovf", io.FILEFORMAT_OVF_BIN8)
    return read_energy_per_spin(folder / "energy.ovf")


def states(ham: Hamiltonian) -> dict[str, torch.Tensor]:
    """The compared states: the zero-field ground-state spiral of the lattice, a skyrmion, a random
    state and an annealed sample of this Hamiltonian (the workflow's own kernel)."""
    n, m, _ = hamiltonian.lattice_ground_state(L, Hamiltonian(ham.J, ham.D, ham.dmi))
    g = torch.Generator().manual_seed(3)
    random = torch.randn(3, L, L, dtype=torch.float64, generator=g)
    annealed = anneal(sample_keys(5, "spirit", [0]), L, ham, Schedule(sweeps=300, quench_sweeps=50), threads=1)[0]
    return {f"spiral ({n}, {m})": spiral(L, n, m, ham), "skyrmion (r = 8)": skyrmion(L, 8.0, ham),
            "random": random / random.norm(dim=0, keepdim=True),
            "annealed": torch.from_numpy(annealed.astype(np.float64))}


def comparison_rows(folder: Path) -> list[dict]:
    rows = []
    for k, ham in enumerate(HAMS):
        for name, s in states(ham).items():
            theirs = spirit_energies(s, ham, folder / f"{k}-{name.split()[0]}")
            ours_map = observables.local_energy_density(s.double(), ham).numpy().reshape(-1)
            ours = float(observables.energy_density(s.double(), ham))
            rows.append({"state": name, "dmi": ham.dmi, "J": ham.J, "D": ham.D, "B": ham.B, "ours": ours,
                         "spirit": float(theirs.mean()), "difference": abs(ours - float(theirs.mean())),
                         "largest site difference": float(np.abs(ours_map - theirs).max())})
    return rows


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return comparison_rows(tmp_path_factory.mktemp("spirit"))


def test_spirit_gives_our_energy_per_spin(rows):
    """Every state, both DMI types, with and without a field: ε equal to rounding (measured: at
    most a few 1e-16), and so is every site's energy."""
    assert len(rows) == 4 * len(HAMS)
    for row in rows:
        assert row["difference"] < 1e-14, row
        assert row["largest site difference"] < 1e-14, row


def test_the_comparison_resolves_the_field_and_the_chirality(tmp_path):
    """A wrong chirality or a field left out would be seen: Spirit's ε of the Bloch skyrmion with
    Néel's DM vectors, or without its field, is off by far more than the tolerance."""
    ham = HAMS[2]
    s = skyrmion(L, 8.0, ham)
    ours = float(observables.energy_density(s, ham))
    wrong_chirality = spirit_energies(s, Hamiltonian(ham.J, ham.D, "neel", ham.B), tmp_path / "neel").mean()
    no_field = spirit_energies(s, Hamiltonian(ham.J, ham.D, ham.dmi), tmp_path / "no-field").mean()
    assert abs(wrong_chirality - ours) > 1e-3 and abs(no_field - ours) > 1e-3


def main() -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        rows = comparison_rows(Path(folder))
    print(f"L = {L}; ε in units of J; Spirit {getattr(sys.modules['spirit'], '__version__', '2.2')}")
    print("| state | DMI | J | D | B | ours ε | Spirit ε | difference | largest site difference |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['state']} | {r['dmi']} | {r['J']:g} | {r['D']:g} | {r['B']:g} | {r['ours']:.15f} | "
              f"{r['spirit']:.15f} | {r['difference']:.1e} | {r['largest site difference']:.1e} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
