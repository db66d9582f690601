"""Where work runs: the torch device and the CPU threads of numba and torch.

torch and numba are imported inside the functions, so that a job that needs one of them does not
pay for the other's start-up.
"""

from __future__ import annotations


def resolve_device(name: str = "auto"):
    """The torch.device for ``auto`` (the GPU where torch sees one, else the CPU), ``cpu`` or
    ``cuda`` (an error where torch sees no GPU)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA device")
    return torch.device(name)


def set_torch_threads(threads: int | None):
    """torch's intra-op threads (left as they are for None or 0)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def set_threads(threads: int | None) -> int:
    """Numba threads for the kernels: `threads` capped at what numba started with (all cores)."""
    import numba

    available = numba.config.NUMBA_NUM_THREADS
    threads = available if threads is None else max(1, min(int(threads), available))
    numba.set_num_threads(threads)
    return threads
