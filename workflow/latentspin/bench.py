"""Throughput benchmarks (printed tables, not timed tests)."""

from __future__ import annotations

import os
import platform
import statistics
import time

import numba
import numpy as np

from latentspin.anneal import heatbath_numba, heatbath_numpy
from latentspin.anneal.driver import TORCH_BATCH_SITES
from latentspin.anneal.schedule import Schedule
from latentspin.core.devices import set_threads
from latentspin.core.seeds import sample_keys
from latentspin.physics.hamiltonian import Hamiltonian


def _time(fn, min_seconds: float, min_calls: int = 3) -> float:
    """Seconds per call of fn: the median of its timed calls, repeated until min_seconds have
    passed and at least min_calls were timed, after one warm-up call. The median, because a slow
    call (another process, the allocator growing) would otherwise set the result when a call is
    so slow that only one or two fit in min_seconds (an L = 128 train step on a small CPU)."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_anneal(L: int = 128, sweeps: int = 20, min_seconds: float = 2.0, threads: list[int] | None = None,
                 ham: Hamiltonian | None = None, torch_device: str | None = None, torch_batch: int = 100,
                 torch_compile: bool | str = True) -> list[dict]:
    """Spin updates per second of the numba kernel (whole annealing runs: random start, heat-bath
    sweeps over a cooling schedule, layout conversion) at each thread count, and of the NumPy
    reference sweep on one thread. With `torch_device` (cpu, cuda, or auto: the GPU if torch sees
    one), also of the torch kernel there, in float64 and float32 (and float32 compiled, with
    `torch_compile`): the same whole runs on batches of `torch_batch` samples, with torch's
    threads on the CPU (each timing after one warm-up run; on a GPU, waited for)."""
    ham = ham or Hamiltonian()
    couplings = heatbath_numba.couplings(ham)
    betas = 1.0 / Schedule(sweeps=sweeps, quench_sweeps=0).temperatures()
    available = numba.config.NUMBA_NUM_THREADS
    rows = []
    for t in threads or sorted({1, available}):
        t = set_threads(t)
        n = 2 * t  # two samples per thread
        keys = sample_keys(0, "bench", range(n))
        out = np.empty((n, 3, L, L), dtype=np.float32)
        seconds = _time(lambda: heatbath_numba.anneal_batch(out, keys, betas, 0, *couplings), min_seconds)
        rows.append({"implementation": "numba kernel", "threads": t, "L": L,
                     "updates_per_s": n * sweeps * L * L / seconds})
    if torch_device is not None:
        rows += _bench_anneal_torch(L, betas, min_seconds, ham, torch_device, torch_batch, torch_compile)
    keys = sample_keys(0, "bench", range(2))
    spins = np.random.default_rng(0).normal(size=(2, 3, L, L))
    spins /= np.linalg.norm(spins, axis=1, keepdims=True)
    seconds = _time(lambda: heatbath_numpy.sweep(spins, keys, 1.0, 1, ham), min_seconds)
    rows.append({"implementation": "numpy reference", "threads": 1, "L": L,
                 "updates_per_s": 2 * L * L / seconds})
    numpy_rate = rows[-1]["updates_per_s"]
    for row in rows:
        row["vs_numpy"] = row["updates_per_s"] / numpy_rate
    return rows


def _bench_anneal_torch(L: int, betas: np.ndarray, min_seconds: float, ham: Hamiltonian, device: str,
                        batch: int, compile: bool | str = True) -> list[dict]:
    """The torch kernel in float64 and float32, and, with `compile` (True, or a torch.compile
    backend), float32 through torch.compile (the workflow's GPU setting; the warm-up run
    compiles)."""
    import torch

    from latentspin.anneal import heatbath_torch
    from latentspin.core.devices import resolve_device

    if batch < 1:
        raise ValueError(f"torch batch must be >= 1, got {batch}")
    dev = resolve_device(device)
    keys = sample_keys(0, "bench", range(batch))
    variants = [(torch.float64, False), (torch.float32, False)] + [(torch.float32, compile)] * (compile is not False)
    rows = []
    for dtype, compiled in variants:
        def run():
            heatbath_torch.anneal_batch(keys, L, ham, betas, 0, device=dev, dtype=dtype, compile=compiled)
            _synchronize(dev)

        seconds = _time(run, min_seconds)
        name = str(dtype).removeprefix("torch.") + " compiled" * (compiled is not False)
        rows.append({"implementation": f"torch {name} {dev.type}", "dtype": name, "batch": batch,
                     "threads": torch.get_num_threads() if dev.type == "cpu" else "gpu", "L": L,
                     "updates_per_s": batch * len(betas) * L * L / seconds})
    return rows


def machine_line() -> str:
    return (f"{platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
            f"numba={numba.__version__} numpy={np.__version__}").replace("  ", " ")


def format_table(rows: list[dict], columns: list[tuple[str, str, int, str]]) -> str:
    """Rows as a fixed-width table; columns are (key, header, width, format template), the
    first left-aligned."""
    def cell(i, text, width):
        return f"{text:<{width}}" if i == 0 else f"{text:>{width}}"

    head = "".join(cell(i, h, w) for i, (_, h, w, _) in enumerate(columns))
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append("".join(cell(i, f.format(r[k]), w) for i, (k, _, w, f) in enumerate(columns)))
    return "\n".join(lines)


ANNEAL_COLUMNS = [("implementation", "implementation", 22, "{}"), ("threads", "threads", 8, "{}"), ("L", "L", 6, "{}"),
                  ("updates_per_s", "updates/s", 14, "{:.3e}"), ("vs_numpy", "vs numpy", 10, "{:.1f}x")]
VAE_COLUMNS = [("operation", "operation", 24, "{}"), ("device", "device", 8, "{}"), ("threads", "threads", 9, "{}"),
               ("L", "L", 6, "{}"), ("batch", "batch", 7, "{}"), ("samples_per_s", "samples/s", 12, "{:.1f}")]
EXPLORE_COLUMNS = [("algorithm", "algorithm", 14, "{}"), ("device", "device", 8, "{}"), ("L", "L", 6, "{}"),
                   ("decodes_per_s", "decodes/s", 12, "{:.1f}"), ("paper_hours", "paper-scale h", 15, "{:.2f}")]


def _synchronize(device):
    """Wait for the GPU, so that timings measure work done, not work queued."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_vae(L: int = 128, batch_size: int = 100, min_seconds: float = 2.0, device: str = "auto",
              latent_dim: int = 100, variants: bool | None = None, compile_backend: str = "inductor") -> list[dict]:
    """Training throughput (samples/s through forward, backward and an Adam step) and decode
    throughput (batches of z through the decoder in evaluation mode, no gradient; and with a
    gradient to z, what the single-code and stochastic explorers do) of the paper's network.
    Also the train step under bfloat16 autocast (``vae.training.precision``): on a GPU, and on a
    CPU with bfloat16 matrix units (Intel AMX), it is the faster setting; elsewhere the row shows
    the cost. With `variants` (default: on a GPU), also the train step and both decodes through
    torch.compile (`compile_backend`; the train step as ``vae.training.compile`` runs it, the decodes
    as the explorers would: they do not compile, being slower compiled on a CPU).
    Each row's ``base`` names the plain operation it varies."""
    import torch

    from latentspin.core.devices import resolve_device
    from latentspin.vae.model import VAE, VAEConfig, kl_divergence, reconstruction_loss
    from latentspin.vae.training import training_forward

    dev = resolve_device(device)
    variants = dev.type == "cuda" if variants is None else variants
    model = VAE(VAEConfig(L=L, latent_dim=latent_dim)).to(dev)
    x = torch.nn.functional.normalize(torch.randn(batch_size, 3, L, L, device=dev), dim=1)
    z = torch.randn(batch_size, latent_dim, device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step(net=model, bf16=False):
        model.train()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            out, mu, logvar = net(x)
        loss = reconstruction_loss(x, out.float()) + 1e-3 * kl_divergence(mu.float(), logvar.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _synchronize(dev)

    def decode(decoder=model.decoder):
        model.eval()
        with torch.no_grad():
            decoder(z)
        _synchronize(dev)

    def decode_grad(decoder=model.decoder):
        model.eval()
        zz = z.clone().requires_grad_(True)
        decoder(zz).square().mean().backward()
        _synchronize(dev)

    runs = [("train step", "train step", train_step), ("decode", "decode", decode),
            ("decode + grad to z", "decode + grad to z", decode_grad),
            ("train step, bfloat16", "train step", lambda: train_step(bf16=True))]
    if variants:
        # the train step as vae.training.compile runs it (encoder and decoder compiled apart)
        compiled_model = training_forward(model, compile=True, backend=compile_backend)
        compiled_decoder = torch.compile(model.decoder, backend=compile_backend)
        runs += [("train step, compiled", "train step", lambda: train_step(compiled_model)),
                 ("decode, compiled", "decode", lambda: decode(compiled_decoder)),
                 ("decode + grad, compiled", "decode + grad to z", lambda: decode_grad(compiled_decoder))]
    rows = []
    for name, base, fn in runs:
        seconds = _time(fn, min_seconds)
        rows.append({"operation": name, "base": base, "device": str(dev), "L": L, "batch": batch_size,
                     "samples_per_s": batch_size / seconds, "threads": torch.get_num_threads()})
    return rows


def bench_explore(L: int = 128, device: str = "auto", min_seconds: float = 2.0, population: int = 100,
                  latent_dim: int = 100) -> list[dict]:
    """Decodes per second of each explorer's inner step with the paper's network (weights do not
    matter for speed), and the paper-scale time this implies: single-code 100 codes x 10,000
    Adam steps; genetic 100 individuals x 10,001 generations; stochastic 100 samples per step
    (its length depends on convergence: the time per 10,000 steps is given)."""
    import torch

    from latentspin.core.devices import resolve_device
    from latentspin.explore import algorithms
    from latentspin.explore.objectives import build
    from latentspin.physics.hamiltonian import Hamiltonian
    from latentspin.vae.model import VAE, VAEConfig

    dev = resolve_device(device)
    model = VAE(VAEConfig(L=L, latent_dim=latent_dim)).to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    energy = build("energy", L, Hamiltonian())
    g = torch.Generator(device=dev).manual_seed(0)
    z0 = torch.randn(population, latent_dim, device=dev)

    runs = {
        "single_code": lambda: algorithms.single_code(model.decoder, energy, z0, iterations=2, lr=1e-2),
        "genetic": lambda: algorithms.genetic(model.decoder, energy, z0, generations=1, pressure=5.0,
                                           mutation_rate=0.01, generator=g),
        "stochastic": lambda: algorithms.stochastic(model.decoder, energy, latent_dim, samples=population, lr=1e-2,
                                                 generator=g, max_iterations=2, device=dev),
    }
    paper_decodes = {"single_code": population * 10_001, "genetic": population * 10_001,
                     "stochastic": population * 10_000}
    rows = []
    for name, run in runs.items():
        decodes = run()["decodes"]  # also the warm-up

        def timed():
            run()
            _synchronize(dev)

        rate = decodes / _time(timed, min_seconds)
        rows.append({"algorithm": name, "device": str(dev), "L": L, "decodes_per_s": rate,
                     "paper_hours": paper_decodes[name] / rate / 3600})
    return rows


# --- every stage, one table ----------------------------------------------------------------------

ALL_COLUMNS = [("stage", "stage", 9, "{}"), ("measurement", "measurement", 42, "{}"), ("L", "L", 5, "{}"),
               ("device", "device", 8, "{}"), ("value", "value", 12, "{:.3e}"), ("unit", "unit", 14, "{}"),
               ("cpu_value", "CPU path", 12, "{:.3e}"), ("vs_cpu", "vs CPU", 9, "{:.2f}x")]


def versions(device) -> dict:
    """What a benchmark row was measured with: package versions, the CPU and the GPU."""
    import torch

    from latentspin import __version__

    return {"latentspin": __version__, "torch": torch.__version__, "numba": numba.__version__,
            "numpy": np.__version__, "python": platform.python_version(),
            "cpu": f"{platform.machine()} x{os.cpu_count()}",
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else ""}


def bench_all(Ls=(32, 64, 128, 256), train_L: int = 128, device: str = "auto", min_seconds: float = 1.0,
              sweeps: int = 10, batch: int = 100, compile: bool = True, progress: bool = True) -> list[dict]:
    """Every stage on `device` beside its CPU path, as rows of one table: annealing updates/s at
    each L (torch kernel in float64, float32 and, with `compile`, float32 compiled, on the device
    against the numba kernel on all CPU threads; on a GPU in batches of the workflow's
    :data:`~latentspin.anneal.driver.TORCH_BATCH_SITES` sites, at least `batch` samples); training
    samples/s, decodes/s and each explorer's iterations/s (of `batch` decodes each) at `train_L` (on the device against torch on the CPU). ``vs_cpu`` is value / cpu_value.
    On a machine without a GPU the device is the CPU too, and the ratios compare the torch kernel
    with numba."""
    from tqdm import tqdm

    from latentspin.core.devices import resolve_device

    dev = resolve_device(device)
    cpu_too = dev.type != "cpu"
    rows: list[dict] = []
    bar = tqdm(total=len(Ls) + 2 * (1 + cpu_too), desc="bench", unit="part", disable=not progress)
    for L in Ls:
        anneal_batch = max(batch, TORCH_BATCH_SITES // (L * L)) if cpu_too else batch
        anneal_rows = bench_anneal(L=L, sweeps=sweeps, min_seconds=min_seconds,
                                   threads=[numba.config.NUMBA_NUM_THREADS], torch_device=str(dev),
                                   torch_batch=anneal_batch, torch_compile=compile)
        numba_rate = anneal_rows[0]["updates_per_s"]
        rows.append({"stage": "anneal", "measurement": f"numba kernel x{anneal_rows[0]['threads']}", "L": L,
                     "device": "cpu", "value": numba_rate, "unit": "updates/s", "cpu_value": numba_rate})
        for r in anneal_rows:
            if "dtype" in r:  # the torch kernel's rows
                rows.append({"stage": "anneal", "measurement": f"torch kernel {r['dtype']}, batch {r['batch']}", "L": L,
                             "device": dev.type, "value": r["updates_per_s"], "unit": "updates/s",
                             "cpu_value": numba_rate})
        bar.update(1)
    # the torch stages on the device and, where that is a GPU, on the CPU too
    devices = [str(dev), "cpu"] if cpu_too else [str(dev)]
    vae = [bench_vae(L=train_L, batch_size=batch, min_seconds=min_seconds, device=d) for d in devices]
    bar.update(len(devices))
    cpu_vae = {c["operation"]: c["samples_per_s"] for c in vae[-1]}
    for r in vae[0]:  # a GPU's variants are compared with the CPU's plain operation
        stage = "train" if r["base"] == "train step" else "decode"
        rows.append({"stage": stage, "measurement": r["operation"], "L": train_L, "device": dev.type,
                     "value": r["samples_per_s"], "unit": "samples/s", "cpu_value": cpu_vae[r["base"]]})
    explore = [bench_explore(L=train_L, device=d, min_seconds=min_seconds, population=batch) for d in devices]
    bar.update(len(devices))
    bar.close()
    for r, c in zip(explore[0], explore[-1]):
        # an iteration: an Adam step of `batch` codes, a generation of `batch` individuals, a
        # stochastic step of `batch` samples
        rows.append({"stage": "explore", "measurement": r["algorithm"], "L": train_L, "device": dev.type,
                     "value": r["decodes_per_s"] / batch, "unit": "iterations/s",
                     "cpu_value": c["decodes_per_s"] / batch})
    info = versions(dev)
    for r in rows:
        r["vs_cpu"] = r["value"] / r["cpu_value"]
        r.update(info)
    return rows


def report(stage: str, *, L: int = 128, Ls=None, sweeps: int = 20, batch: int = 100, device: str | None = None,
           seconds: float = 2.0, threads: list[int] | None = None, compile: bool = True,
           csv: str | None = None) -> str:
    """The benchmark of `stage` (anneal, vae, explore or all) as a printed table headed by the
    version and the machine; `all` also writes the rows, with versions, to `csv`."""
    from latentspin import __version__
    from latentspin.core.devices import set_torch_threads

    if stage == "anneal":
        rows = bench_anneal(L=L, sweeps=sweeps, min_seconds=seconds, threads=threads, torch_device=device,
                            torch_batch=batch, torch_compile=compile)
        table = format_table(rows, ANNEAL_COLUMNS)
    elif stage == "vae":
        set_torch_threads(threads[0] if threads else None)
        rows = bench_vae(L=L, batch_size=batch, min_seconds=seconds, device=device or "auto")
        table = format_table(rows, VAE_COLUMNS)
    elif stage == "explore":
        set_torch_threads(threads[0] if threads else None)
        rows = bench_explore(L=L, device=device or "auto", min_seconds=seconds, population=batch)
        table = format_table(rows, EXPLORE_COLUMNS)
        table += "\n(stochastic: hours per 10,000 steps; the paper's runs take several such phases)"
    elif stage == "all":
        rows = bench_all(Ls=Ls or (32, 64, 128, 256), train_L=L, device=device or "auto", min_seconds=seconds,
                         sweeps=sweeps, batch=batch, compile=compile)
        v = rows[0]
        table = format_table(rows, ALL_COLUMNS)
        table += (f"\n(torch {v['torch']}, numba {v['numba']}, numpy {v['numpy']}, python {v['python']}; "
                  f"CPU {v['cpu']}; GPU {v['gpu'] or 'none'}. CPU path: numba on all threads for annealing, "
                  "torch on the CPU otherwise)")
        if csv:
            import pandas as pd

            from latentspin.core.io import write_csv

            write_csv(pd.DataFrame(rows), csv)
    else:
        raise ValueError(f"unknown benchmark stage {stage!r}; expected anneal, vae, explore or all")
    return f"# latentspin {__version__} {stage} benchmark, {machine_line()}\n{table}"
