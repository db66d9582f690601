"""Simulated annealing of classical Heisenberg spins by heat-bath Monte Carlo.

The annealing stage of the DAG: each sample starts from random spins, is cooled by checkerboard
heat-bath sweeps along a :class:`Schedule`, and ends with zero-temperature sweeps (a quench) that
set every spin parallel to its local field. The numba kernels live in
:mod:`latentspin.anneal.heatbath_numba`, their torch twin (same random numbers, same draw; for GPUs)
in :mod:`latentspin.anneal.heatbath_torch`; the schedule in :mod:`latentspin.anneal.schedule`. This
module holds the choice of kernel (``anneal.device``) and the batched driver. numba is imported
only when the numba kernel runs, torch only when the torch kernel, or ``auto``, asks for it: the
torch kernel's jobs (and the explorers' relaxation on a GPU) do not pay for numba's start-up, nor
the numba kernel's for torch's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from latentspin.anneal.schedule import Schedule, check_lattice, check_sweep_number
from latentspin.core.devices import set_threads
from latentspin.core.errors import ConfigError
from latentspin.physics.hamiltonian import Hamiltonian

ANNEAL_DEVICES = ("auto", "cpu", "cuda")  # what users choose (anneal.device)
KERNELS = ("numba", "torch")  # what runs; "torch" on the CPU is for tests and benchmarks
TORCH_DTYPES = ("float64", "float32")
# samples per batch of the torch kernel: at most this many sites (2**24 = 1024 lattices of 128²,
# about 0.4 GB of float64 spins, a few GB with the temporaries of a half sweep)
TORCH_BATCH_SITES = 2**24


def select_kernel(device: str = "cpu", kernel: str | None = None) -> tuple[str, str]:
    """The annealing kernel and its device, (kernel, device), for ``anneal.device``:

    * ``cpu``: the numba kernel;
    * ``cuda``: the torch kernel on the GPU; a ConfigError naming the key if torch sees no GPU;
    * ``auto``: ``cuda`` if torch sees a GPU, else ``cpu``.

    `kernel` ("numba" or "torch") overrides the choice of kernel, not of device: the tests and
    benchmarks run the torch kernel on the CPU with ``kernel="torch"`` (device cpu, or auto
    without a GPU); the numba kernel runs on the CPU only.
    """
    if device not in ANNEAL_DEVICES:
        raise ConfigError(f"anneal.device must be one of {ANNEAL_DEVICES}, got {device!r}")
    if kernel is not None and kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS} (or None: chosen by anneal.device), got {kernel!r}")
    if device == "cpu" or kernel == "numba":
        if kernel == "numba" and device == "cuda":
            raise ValueError("kernel 'numba' runs on the CPU only; anneal.device 'cuda' needs the torch kernel")
        return kernel or "numba", "cpu"
    import torch

    has_cuda = torch.cuda.is_available()
    if device == "cuda" and not has_cuda:
        raise ConfigError("anneal.device is 'cuda' but torch sees no CUDA device (use 'auto' or 'cpu')")
    if has_cuda:
        return "torch", "cuda"
    return kernel or "numba", "cpu"


def kernel_description(kernel: str, device: str, dtype: str = "float64") -> str:
    """What produced a dataset, for its ``method`` attribute: the kernel by its name, not its
    module's, so that moving code does not make a split's shards look as if they came from
    different kernels (assembly refuses those)."""
    if kernel == "numba":
        return "checkerboard heat-bath Monte Carlo (numba kernel, float64), then zero-temperature sweeps"
    if kernel == "torch":
        return f"checkerboard heat-bath Monte Carlo (torch kernel, {dtype} on {device}), then zero-temperature sweeps"
    raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")


def anneal(
    keys: np.ndarray,
    L: int,
    ham: Hamiltonian,
    schedule: Schedule,
    *,
    threads: int | None = None,
    progress: Callable[[int], object] | None = None,
    device: str = "cpu",
    kernel: str | None = None,
    dtype: str = "float64",
    batch_size: int | None = None,
    compile: bool | str = False,
) -> np.ndarray:
    """Anneal one sample per key; returns float32 spins of shape (n, 3, L, L).

    `device` is ``anneal.device`` (cpu, cuda or auto) and picks the kernel
    (:func:`select_kernel`; `kernel` overrides it). Each sample depends only on its key and the
    schedule, whatever the batch, the threads or the shard; the two kernels draw the same random
    numbers, but their samples of one key part ways during the anneal (chaotic dynamics amplify
    the ulp-level differences of exp, log1p, sin and cos), so a dataset records which one ran.

    numba: samples run one per thread, in chunks of `threads`. torch: equal batches of at most
    `batch_size` samples (default: :data:`TORCH_BATCH_SITES` sites) in `dtype` (float64, or
    float32 for GPU speed), the half sweeps through torch.compile if `compile` (see
    :func:`latentspin.anneal.heatbath_torch.compile_backend`); `threads` is not used (torch keeps its own
    thread count). `progress(k)` is called after each chunk or batch with the number of samples
    it finished (e.g. ``tqdm.update``).
    """
    check_lattice(L)
    keys = np.ascontiguousarray(keys, dtype=np.uint64).reshape(-1, 2)
    kernel, device = select_kernel(device, kernel)
    betas = 1.0 / schedule.temperatures()
    if kernel == "torch":
        return _anneal_torch(keys, L, ham, betas, schedule.quench_sweeps, device, dtype, batch_size, progress, compile)
    from latentspin.anneal import heatbath_numba

    threads = set_threads(threads)
    out = np.empty((len(keys), 3, L, L), dtype=np.float32)
    for start in range(0, len(keys), threads):
        stop = min(start + threads, len(keys))
        heatbath_numba.anneal_batch(out[start:stop], keys[start:stop], betas, schedule.quench_sweeps,
                                    *heatbath_numba.couplings(ham))
        if progress is not None:
            progress(stop - start)
    return out


def _anneal_torch(keys, L, ham, betas, n_quench, device, dtype, batch_size, progress, compile) -> np.ndarray:
    import torch

    from latentspin.anneal import heatbath_torch

    if dtype not in TORCH_DTYPES:
        raise ValueError(f"dtype must be one of {TORCH_DTYPES}, got {dtype!r}")
    if batch_size is None:
        batch_size = max(1, TORCH_BATCH_SITES // (L * L))
    elif batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    out = np.empty((len(keys), 3, L, L), dtype=np.float32)
    # as few batches as batch_size allows, of equal size: 5,000 samples at 1,024 a batch are 5 of 1,000
    n_batches = max(1, math.ceil(len(keys) / batch_size))
    size = max(1, math.ceil(len(keys) / n_batches))
    for start in range(0, len(keys), size):
        stop = min(start + size, len(keys))
        batch = keys[start:stop]
        if compile and len(batch) < size:
            # compiled half sweeps are shape-static: a short last batch is padded with copies of its
            # last key (each sample depends on its key alone) instead of compiling for a new shape
            batch = np.concatenate([batch, np.repeat(batch[-1:], size - len(batch), axis=0)])
        spins = heatbath_torch.anneal_batch(batch, L, ham, betas, n_quench, device=device,
                                          dtype=getattr(torch, dtype), compile=compile)
        out[start:stop] = spins[: stop - start].cpu().numpy()
        if progress is not None:
            progress(stop - start)
    return out


def sweep(spins: np.ndarray, keys: np.ndarray, T: float, sweep_index: int, ham: Hamiltonian,
          *, threads: int | None = None) -> np.ndarray:
    """One heat-bath sweep at temperature T (0 for a quench) of float64 spins (n, 3, L, L),
    in place; sweep_index numbers the random stream (>= 1). Returns spins."""
    check_lattice(spins.shape[-1])
    check_sweep_number(sweep_index, heat_bath=T != 0)
    if spins.dtype != np.float64 or not spins.flags.c_contiguous:
        raise TypeError("sweep works in place on C-contiguous float64 spins")
    from latentspin.anneal import heatbath_numba

    set_threads(threads)
    beta = np.inf if T == 0 else 1.0 / T
    heatbath_numba.sweep_batch(spins, np.ascontiguousarray(keys, dtype=np.uint64), beta, sweep_index,
                               *heatbath_numba.couplings(ham))
    return spins


def relax(spins: np.ndarray, ham: Hamiltonian, sweeps: int, *, threads: int | None = None) -> np.ndarray:
    """Zero-temperature heat-bath sweeps (each spin set along its local field) of float spins
    (n, 3, L, L): the annealing kernel's quench, to test whether a state is metastable under
    the real Hamiltonian. Returns float32 spins; the input is not modified."""
    no_keys = np.zeros((len(spins), 2), dtype=np.uint64)  # a quench draws no random numbers
    return _chain(spins, ham, np.empty(0), sweeps, no_keys, threads)


def kick(spins: np.ndarray, ham: Hamiltonian, temperature: float, sweeps: int, quench_sweeps: int,
         keys: np.ndarray, *, threads: int | None = None) -> np.ndarray:
    """A thermal kick: `sweeps` heat-bath sweeps at `temperature`, then `quench_sweeps`
    zero-temperature sweeps, of float spins (n, 3, L, L), one random stream per state (`keys`,
    (n, 2) uint64). A stationary state that is a saddle of H decays under it (the heat bath's
    fluctuations grow along the unstable directions, which a noise-free quench never finds); a
    local minimum comes back to itself. Returns float32 spins; the input is not modified."""
    if not temperature > 0 or sweeps < 1 or quench_sweeps < 0:
        raise ValueError(f"a thermal kick needs temperature > 0, sweeps >= 1 and quench_sweeps >= 0, got "
                         f"{temperature}, {sweeps}, {quench_sweeps}")
    keys = np.ascontiguousarray(keys, dtype=np.uint64).reshape(-1, 2)
    if len(keys) != len(spins):
        raise ValueError(f"one key per state: {len(keys)} keys for {len(spins)} states")
    return _chain(spins, ham, np.full(sweeps, 1.0 / temperature), quench_sweeps, keys, threads)


def _chain(spins: np.ndarray, ham: Hamiltonian, betas: np.ndarray, n_quench: int, keys: np.ndarray,
           threads: int | None) -> np.ndarray:
    """The kernel's chain (:func:`latentspin.anneal.heatbath_numba.chain_batch`) on a float64 copy
    of spins, sweeps numbered from 1; float32 out."""
    check_lattice(spins.shape[-1])
    from latentspin.anneal import heatbath_numba

    work = np.array(spins, dtype=np.float64, order="C")  # a copy: the input is left alone
    set_threads(threads)
    heatbath_numba.chain_batch(work, keys, betas, 1, n_quench, *heatbath_numba.couplings(ham))
    return work.astype(np.float32)
