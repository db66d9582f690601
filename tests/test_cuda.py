"""The GPU paths against the CPU ones: annealing, training, exploration.

They run where torch sees CUDA and skip elsewhere, saying so. ``LATENTSPIN_TEST_DEVICE=cpu``
runs them with the CPU standing in for the GPU, which checks the tests themselves on a machine
without one (the comparisons then pit the torch paths against numba and against themselves).
"""

import os

import numpy as np
import pytest
import torch
import yaml
from latentspin.anneal import driver as mc
from latentspin.anneal import heatbath_numba
from latentspin.anneal import heatbath_torch as tk
from latentspin.anneal.schedule import Schedule
from latentspin.core import config as cfg
from latentspin.core.seeds import sample_keys
from latentspin.explore import search
from latentspin.physics import observables
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae import training
from latentspin.vae.model import VAE, VAEConfig
from scipy import stats

DEVICE = torch.device(os.environ.get("LATENTSPIN_TEST_DEVICE", "cuda"))
if DEVICE.type == "cuda" and not torch.cuda.is_available():
    pytest.skip("CUDA is not available: the GPU paths are tested on a GPU machine "
                "(LATENTSPIN_TEST_DEVICE=cpu checks these tests on the CPU)", allow_module_level=True)

HAM = Hamiltonian(J=1.0, D=0.3, dmi="bloch")
SMALL = dict(latent_dim=8, encoder_channels=(4, 6, 8, 8), decoder_channels=(8, 6, 4, 3), dense=16)


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_one_sweep_on_the_device_is_the_numba_kernels(compile):
    """The same state and keys: one float64 heat-bath sweep agrees with numba's to rounding, also
    through torch.compile (inductor's generated kernels)."""
    L, n = 16, 6
    keys = sample_keys(3, "gpu", range(n))
    rng = np.random.default_rng(0)
    s = rng.normal(size=(n, 3, L, L))
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    dx, dy = (np.array(v) for v in HAM.dmi_vectors())
    ours = tk.sweep_batch(torch.from_numpy(s).to(DEVICE), keys, 1.0 / 0.7, 5, HAM, compile=compile).cpu().numpy()
    theirs = s.copy()
    heatbath_numba.sweep_batch(theirs, keys, 1.0 / 0.7, 5, HAM.J, dx, dy)
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("dtype, compile", [("float64", False), ("float32", True)], ids=["float64", "workflow"])
def test_annealing_on_the_device_has_the_cpu_kernels_statistics(dtype, compile):
    """A few hundred annealed samples of each kernel (different keys): ε, Mz, W and the dominant
    wavelength agree within sampling error (Welch's t-test and the two-sample KS test). Both in
    float64 and with the workflow's GPU setting (anneal.torch: float32, compiled)."""
    L, n = 32, 256
    schedule = Schedule(sweeps=200, quench_sweeps=50)
    gpu = mc.anneal(sample_keys(1, "gpu-stats", range(n)), L, HAM, schedule, device=DEVICE.type, kernel="torch",
                    dtype=dtype, compile=compile)
    cpu = mc.anneal(sample_keys(2, "gpu-stats", range(n)), L, HAM, schedule, device="cpu")
    a, b = (observables.measure(torch.from_numpy(x), HAM) for x in (gpu, cpu))
    for q in ("energy", "Mz", "W"):
        assert stats.ttest_ind(a[q].numpy(), b[q].numpy(), equal_var=False).pvalue > 1e-3, q
    for q in ("energy", "Mz"):
        assert stats.ks_2samp(a[q].numpy(), b[q].numpy()).pvalue > 1e-3, q
    wl = [observables.dominant_wavelength(torch.from_numpy(x).double()).numpy() for x in (gpu, cpu)]
    assert stats.ks_2samp(*wl).pvalue > 1e-3


def _data(n, L=32, seed=0):
    keys = sample_keys(seed, "gpu-train", range(n))
    return torch.from_numpy(mc.anneal(keys, L, HAM, Schedule(sweeps=60, quench_sweeps=20)))


@pytest.mark.parametrize("precision", training.PRECISIONS)
def test_training_on_the_device_follows_the_cpu(tmp_path, precision):
    """Two epochs from the same weights and batches: the device's losses are the CPU's within
    0.5 % in float32 (different kernels sum in different orders) and 5 % in bfloat16."""
    x, v = _data(32), _data(8, seed=1)
    histories = {}
    for device in ("cpu", DEVICE.type):
        torch.manual_seed(0)
        model = VAE(VAEConfig(L=32, **SMALL)).to(device)
        tcfg = training.TrainConfig(beta=0.01, epochs=2, batch_size=8, seed=3, precision=precision)
        histories[device] = training.fit(model, x.to(device), v.to(device), tcfg, tmp_path / f"{device}.pt", {},
                                      progress=False)
    rtol = 5e-3 if precision == "float32" else 5e-2
    np.testing.assert_allclose(histories[DEVICE.type]["valid_rc"], histories["cpu"]["valid_rc"], rtol=rtol)


def test_explorers_run_on_the_device(root, tmp_path):
    """Each algorithm on the device: its trajectory and final states come back to the host,
    finite, and the relaxation check (numba, on the host) never raises the energy."""
    config = cfg.merge(yaml.safe_load((root / "config.yaml").read_text()),
                       yaml.safe_load((root / "presets" / "smoke.yaml").read_text()))
    torch.manual_seed(0)
    model = VAE(VAEConfig(L=32, **SMALL))
    model.extra = {"beta": 1e-3}
    for algorithm, objective in (("single_code", "energy"), ("genetic", "W"), ("stochastic", "Mz")):
        ds, summary = search.run_pair(config, algorithm, objective, model, device=DEVICE, progress=False)
        assert summary["device"] == str(DEVICE) and summary["decodes"] > 0
        assert np.isfinite(ds["final_spins"].values).all()
        assert summary["relaxed_energy"] <= summary["final_energy"] + 1e-9
