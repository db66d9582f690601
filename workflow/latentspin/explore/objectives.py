"""Objectives of the latent-space explorers: physical quantities of decoded spins, with a
direction. Each wraps the single definition in :mod:`latentspin.physics.observables`; nothing is
recomputed here.

Every objective is batched and differentiable: ``value(spins)`` maps (B, 3, L, L) to (B,).
``cost`` is what gradient-based explorers minimize and ``fitness`` what the genetic algorithm
maximizes, so that neither needs to know the direction.

Objectives of your own (config ``explore.objectives.custom``, docs/objectives.md) are functions
of your module, named "module:attribute": :func:`custom_objective` imports one and checks it on
random unit spins before any search uses it (:func:`check_custom` does so for a whole config).
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from latentspin.core.config import (
    CUSTOM_KEY,
    GRADIENT_ALGORITHMS,
    OBJECTIVES,
    custom_objectives,
    file_sha256,
    ring_sites,
)
from latentspin.core.errors import ConfigError
from latentspin.physics import observables
from latentspin.physics.hamiltonian import Hamiltonian


@dataclass(frozen=True)
class Objective:
    name: str
    maximize: bool
    value: Callable[[Tensor], Tensor]
    description: str = ""
    arrays: Mapping[str, Tensor] = field(default_factory=dict)  # the objective's own data, e.g. S_BC, stored with a run
    pressure: float | None = None  # the genetic selection pressure of an objective of your own (else explore.genetic)
    source: Mapping[str, str] = field(default_factory=dict)  # yours: its function and module's digest, stored with a run

    def cost(self, spins: Tensor) -> Tensor:
        """Lower is better."""
        v = self.value(spins)
        return -v if self.maximize else v

    def fitness(self, spins: Tensor) -> Tensor:
        """Higher is better."""
        return -self.cost(spins)


def boundary_map(L: int, radius: float, width: float, direction: Sequence[float] | str = (0.0, 0.0, 1.0),
                 dtype=torch.float32) -> Tensor:
    """S_BC (3, L, L) of paper Fig. 5e: non-zero only on a ring of the given radius and width (in
    sites) centred on the lattice, with unit spins along `direction` (a 3-vector, or "radial" /
    "tangential" in-plane) and zero elsewhere."""
    if not 0 < radius < L / 2:
        raise ValueError(f"boundary radius must be in (0, L/2 = {L / 2}), got {radius}")
    if width <= 0:
        raise ValueError(f"boundary width must be > 0, got {width}")
    sites = list(ring_sites(L, radius, width))
    if not sites:
        raise ValueError(f"boundary width {width} leaves the ring of radius {radius} without a lattice site")
    ring = torch.zeros(L, L, dtype=torch.bool)
    ring[tuple(torch.tensor(sites).T)] = True
    c = (L - 1) / 2
    y, x = torch.meshgrid(torch.arange(L, dtype=torch.float64) - c, torch.arange(L, dtype=torch.float64) - c,
                          indexing="ij")
    if isinstance(direction, str):
        if direction not in ("radial", "tangential"):
            raise ValueError(f"boundary direction must be a 3-vector, 'radial' or 'tangential', got {direction!r}")
        phi = torch.atan2(y, x) + (math.pi / 2 if direction == "tangential" else 0.0)
        field = torch.stack([torch.cos(phi), torch.sin(phi), torch.zeros_like(phi)])
    else:
        d = torch.tensor([float(v) for v in direction], dtype=torch.float64)
        if d.shape != (3,) or d.norm() == 0:
            raise ValueError(f"boundary direction must be a non-zero 3-vector, got {list(direction)}")
        field = (d / d.norm()).view(3, 1, 1).expand(3, L, L)
    return (field * ring).to(dtype)


def build(name: str, L: int, ham: Hamiltonian, settings: Mapping | None = None, *,
          gradient: bool = False) -> Objective:
    """The objective called `name` (one of OBJECTIVES, or one of yours); settings is config
    explore.objectives: ``C: {a}``, ``C_BC: {boundary: {radius (fraction of L), width (sites),
    direction}}`` and ``custom: {name: {function, maximize, pressure}}``. An objective of yours is
    checked first (:func:`custom_objective`), its gradient too where `gradient`."""
    settings = settings or {}
    custom = settings.get("custom") or {}
    if name in custom and name not in OBJECTIVES:
        return custom_objective(name, custom[name], L, gradient=gradient)
    if name == "energy":
        return Objective("energy", False, lambda s: observables.energy_density(s, ham), "energy density ε (minimize)")
    if name == "W":
        return Objective("W", True, observables.topological_index, "topological index W (maximize)")
    if name == "Mz":
        return Objective("Mz", True, observables.magnetization_z, "magnetization Mz (maximize)")
    if name == "C":
        a = tuple(int(v) for v in settings["C"]["a"])
        return Objective("C", True, lambda s: observables.correlation(s, a), f"correlation C(a), a = {a} (maximize)")
    if name == "C_BC":
        b = settings["C_BC"]["boundary"]
        s_bc = boundary_map(L, b["radius"] * L, b["width"], b["direction"])
        cache: dict = {}

        def value(s: Tensor) -> Tensor:
            key = (s.device, s.dtype)
            if key not in cache:
                cache[key] = s_bc.to(device=s.device, dtype=s.dtype)
            return observables.boundary_correlation(s, cache[key])

        return Objective("C_BC", True, value, "correlation with the boundary map S_BC (maximize)",
                         {"boundary_map": s_bc})
    raise ValueError(f"unknown objective {name!r}; expected one of {OBJECTIVES} or one of {CUSTOM_KEY}: "
                     f"{tuple(custom)}")


# --- objectives of your own ------------------------------------------------------------------

# The states a function of yours is tried on before a search: random unit spins of this batch
CHECK_BATCH = 2


def _import(key: str, function: str):
    """The attribute named by "module:attribute" (attribute may be dotted), imported; the
    working directory is searched too, as in the workflow's jobs."""
    module_name, _, attribute = function.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    importlib.invalidate_caches()  # a module written since the last import is found
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise ConfigError(f"config key {key} ({function}): module {e.name!r} not found, neither in the working "
                              f"directory {os.getcwd()} nor elsewhere on the Python path") from None
        raise ConfigError(f"config key {key} ({function}): importing module {module_name!r} raised "
                          f"ModuleNotFoundError: {e}") from None
    except Exception as e:  # noqa: BLE001  (the user's module: any error it raises is reported)
        raise ConfigError(f"config key {key} ({function}): importing module {module_name!r} raised "
                          f"{type(e).__name__}: {_one_line(e)}") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"config key {key} ({function}): module {module_name!r} ({module.__file__}) has no "
                              f"attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"config key {key} ({function}): {attribute!r} is a {type(target).__name__}, not callable")
    return module, target


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or repr(e)


def _check_values(key: str, function: str, f: Callable, spins: Tensor, gradient: bool):
    """Call f on spins (CHECK_BATCH, 3, L, L) and check what it returns; with `gradient`, also its
    gradient with respect to the spins."""
    shape = tuple(spins.shape)
    where = f"on random unit spins of shape {shape}, {str(spins.dtype).removeprefix('torch.')}"
    if gradient:
        spins = spins.clone().requires_grad_(True)
    try:
        with torch.set_grad_enabled(gradient):
            v = f(spins)
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"config key {key} ({function}) raised {type(e).__name__} {where}: {_one_line(e)}") from None
    if not isinstance(v, Tensor):
        kind = type(v).__name__ if type(v).__module__ == "builtins" else f"{type(v).__module__}.{type(v).__name__}"
        raise ConfigError(f"config key {key} ({function}) returned a {kind} {where}; expected a torch tensor of shape "
                          f"({shape[0]},)")
    if tuple(v.shape) != (shape[0],):
        raise ConfigError(f"config key {key} ({function}) returned shape {tuple(v.shape)} {where}; expected "
                          f"({shape[0]},): one value per state")
    if not v.is_floating_point():
        raise ConfigError(f"config key {key} ({function}) returned a tensor of {v.dtype} {where}; expected "
                          "floating-point values")
    if not torch.isfinite(v).all():
        raise ConfigError(f"config key {key} ({function}) returned non-finite values {v.tolist()} {where}")
    if not gradient:
        return
    why = "single_code and stochastic follow its gradient"
    if not v.requires_grad:
        raise ConfigError(f"config key {key} ({function}) has no gradient {where}: its value does not depend "
                          f"differentiably on the spins (computed outside torch, or detached?); {why}")
    try:
        v.sum().backward()
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"config key {key} ({function}): its backward pass raised {type(e).__name__} {where}: "
                          f"{_one_line(e)}; {why}") from None
    if spins.grad is None:
        raise ConfigError(f"config key {key} ({function}) has no gradient {where}: backward() reached no spin; {why}")
    if not torch.isfinite(spins.grad).all():
        bad = int((~torch.isfinite(spins.grad)).sum())
        raise ConfigError(f"config key {key} ({function}) has a non-finite gradient {where} ({bad} of "
                          f"{spins.grad.numel()} entries NaN or infinite); {why}")


def random_unit_spins(L: int, n: int = CHECK_BATCH, dtype=torch.float32) -> Tensor:
    """n random unit spin fields (n, 3, L, L), the same every call."""
    s = torch.randn(n, 3, L, L, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (s / s.norm(dim=1, keepdim=True)).to(dtype)


def custom_objective(name: str, spec: Mapping, L: int, *, gradient: bool = False) -> Objective:
    """Your objective `name` of config explore.objectives.custom: ``spec`` = {function:
    "module:attribute", maximize, pressure, description?, source_sha256?}. The function is
    imported and tried on CHECK_BATCH random unit spins (L x L) in float32 (what the decoder gives)
    and float64 (what the measurements use): it must return a finite floating-point tensor of
    shape (CHECK_BATCH,), and where `gradient` (a search that follows it) a finite gradient of the
    spins. Anything else raises ConfigError naming the key and what failed. With source_sha256,
    the module's file must have that digest (the workflow passes the one it planned with)."""
    key = f"{CUSTOM_KEY}.{name}.function"
    function = spec["function"]
    module, f = _import(key, function)
    path = getattr(module, "__file__", None)
    digest = file_sha256(path) if path and os.path.isfile(path) else ""
    if spec.get("source_sha256") and spec["source_sha256"] != digest:
        raise ConfigError(f"config key {CUSTOM_KEY}.{name}.source_sha256: the module {path} of {function} changed "
                          "after Snakemake planned this job (its SHA-256 differs); run snakemake again")
    _check_values(key, function, f, random_unit_spins(L), gradient)
    _check_values(key, function, f, random_unit_spins(L, dtype=torch.float64), False)

    def value(spins: Tensor) -> Tensor:
        v = f(spins)
        if not isinstance(v, Tensor) or tuple(v.shape) != (spins.shape[0],):
            raise ConfigError(f"config key {key} ({function}) returned "
                              f"{tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__} for spins of shape "
                              f"{tuple(spins.shape)}; expected ({spins.shape[0]},): one value per state")
        return v

    maximize = bool(spec["maximize"])
    description = spec.get("description") or f"{function} ({'maximize' if maximize else 'minimize'})"
    return Objective(name, maximize, value, description, pressure=float(spec["pressure"]),
                     source={"function": function, "source_sha256": digest})


def check_custom(config: Mapping, pairs: Iterable[tuple[str, str]]) -> None:
    """Check every objective of config explore.objectives.custom (:func:`custom_objective`) at the
    config's lattice.L, its gradient where one of `pairs` follows it (single_code, stochastic):
    what the workflow does at start-up, before any job, and the explore command before its search."""
    pairs = list(pairs)
    L = config["lattice"]["L"]
    for name, spec in custom_objectives(config).items():
        gradient = any(a in GRADIENT_ALGORITHMS for a, o in pairs if o == name)
        custom_objective(name, spec, L, gradient=gradient)
