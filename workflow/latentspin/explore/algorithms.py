"""The three latent-space explorers of the paper (Fig. 2, Methods).

Each takes a decoder (codes (B, N) -> spins (B, 3, L, L), in evaluation mode) and an
:class:`latentspin.explore.objectives.Objective`, and returns plain tensors: trajectories and final
codes. They know nothing about files; :mod:`latentspin.explore.search` runs them for the workflow.
All randomness comes from the `generator` passed in, so a seed reproduces every trajectory.

Each explorer saves its whole state through a :class:`SearchCheckpoint` every so many seconds, and one
given the state a previous run saved goes on from there: it ends bitwise where an uninterrupted
run would (same device and threads), so a job stopped by a cluster's time limit loses at most the
time since its last checkpoint.

A non-finite (NaN or infinite) objective value or code stops a search with
:class:`latentspin.core.errors.NotFinite` naming the iteration or generation where it first
appeared, before any state holding it is saved: the checkpoint keeps the last good state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from tqdm import tqdm

from latentspin.core.checkpoints import CHECKPOINT_SECONDS, Checkpoint, Stopped
from latentspin.core.errors import NotFinite
from latentspin.explore.objectives import Objective
from latentspin.vae.model import decode_in_batches, kl_divergence

Decoder = Callable[[Tensor], Tensor]


def _bar(total, desc, progress, initial=0):
    return tqdm(total=total, initial=initial, desc=desc, unit="it", disable=not progress, mininterval=5.0)


class SearchStopped(Stopped):
    """A search asked to stop (:meth:`SearchCheckpoint.request_stop`) saved its state and stopped."""

    def __init__(self, iteration: int):
        super().__init__(f"iteration {iteration}")
        self.iteration = iteration


class SearchCheckpoint(Checkpoint):
    """Where an explorer's state goes and where it comes back from (:class:`latentspin.core.checkpoints.
    Checkpoint`, a step being an iteration or a generation). The last iteration is never saved: a
    search that has finished is written by its caller, not resumed. A stopped search raises
    :class:`SearchStopped`."""

    def __init__(self, save: Callable[[dict], object] | None = None, every: float = CHECKPOINT_SECONDS,
                 state: dict | None = None, *, name: str | None = None):
        super().__init__(save, every, state)
        self.name = name  # where it saves (a file), for the message of a search that stops

    def stopped(self, saved: dict) -> Exception:
        return SearchStopped(saved.get("iteration", saved.get("generation")))


def _resume(checkpoint: SearchCheckpoint | None) -> dict | None:
    return None if checkpoint is None else checkpoint.state


class _Watch:
    """Stops a search at the first non-finite objective value or code, with :class:`NotFinite`
    naming the search, the objective, the iteration (generation) and the checkpoint it keeps.

    An explorer that reads numbers from its device every step anyway checks them there
    (:meth:`now`); one that does not (single-code) records the first bad step on the device
    (:meth:`see`), and reads that record (:meth:`check`) where it reads other numbers, before
    every save (:meth:`saving`) and at its end: no host-device synchronization of its own per
    step. Steps count from 1 for iterations (the checkpoint's "iteration" is the number done)
    and from 0 for generations (generation 0: the initial population; the checkpoint's
    "generation" is the next one to score)."""

    def __init__(self, search: str, objective: Objective, checkpoint: Checkpoint | None, *, values: str, codes: str,
                 advice: str, unit: str = "iteration", device: torch.device | str | None = None):
        # values, codes: what the counts of non-finite values and codes count, e.g. "8 codes"
        self.search, self.objective, self.values, self.codes, self.advice, self.unit = (
            search, objective, values, codes, advice, unit)
        self.keeps = checkpoint is not None and checkpoint.save is not None
        self.name = getattr(checkpoint, "name", None) or "its checkpoint"
        resumed = _resume(checkpoint)
        self.kept = None if resumed is None else self._step(resumed)
        self.final: int | None = None  # the step whose values are those of the final codes
        self.bar = None  # the search's progress bar, closed before the message, so that it has its own line
        # (step, non-finite values, non-finite codes) of the first bad step; 0s while all are finite
        self.record = None if device is None else torch.zeros(3, dtype=torch.long, device=device)

    def _step(self, saved: dict) -> int:
        """The last step whose state a saved state holds."""
        return saved["iteration"] if "iteration" in saved else saved["generation"] - 1

    def saving(self, state: dict) -> dict:
        """`state`, to be saved, once no step so far went bad (so a bad state is never saved)."""
        self.check()
        if self.keeps:
            self.kept = self._step(state)
        return state

    def see(self, step: int, values: Tensor, codes: Tensor):
        """Record on the device whether `step`'s objective values (B,) or codes (B, N) are finite."""
        bad = torch.stack([(~torch.isfinite(values.detach())).sum(), (~torch.isfinite(codes.detach())).any(-1).sum()])
        first = (bad.sum() > 0) & (self.record[0] == 0)
        self.record = torch.where(first, torch.cat([bad.new_full((1,), step), bad]), self.record)

    def check(self):
        """Stop if :meth:`see` recorded a bad step."""
        if self.record is not None:
            self.now(*self.record.tolist())

    def now(self, step: int, bad_values: int, bad_codes: int):
        """Stop if `step` had non-finite objective values or codes (their counts)."""
        if not (bad_values or bad_codes):
            return
        what = " and ".join([f"objective value for {bad_values:.0f} of {self.values}"] * bool(bad_values)
                            + [f"{self.codes.format(bad_codes)}"] * bool(bad_codes))
        at = f"after the last {self.unit} ({step - 1})" if step == self.final else f"at {self.unit} {step}"
        if not self.keeps:
            held = "no checkpoint was asked for"
        elif self.kept is None:
            held = "no checkpoint of this search was saved yet"
        else:
            held = f"{self.name} keeps the state after {self.unit} {self.kept}"
        if self.bar is not None:
            self.bar.close()
        raise NotFinite(f"{self.search} of {self.objective.name}: non-finite {what} {at}; {held}; "
                        f"no output was written. {self.advice}")


def _stack(tensors: list[Tensor]) -> Tensor | list:
    """A list of equal-shape tensors as one (a checkpoint of many small tensors saves slowly)."""
    return torch.stack(tensors) if tensors else []


# --- single-code modification (Fig. 2a) -------------------------------------------------------


def single_code(decoder: Decoder, objective: Objective, z0: Tensor, *, iterations: int, lr: float,
                betas: Sequence[float] = (0.9, 0.999), record_every: int = 10, progress: bool = False,
                checkpoint: SearchCheckpoint | None = None) -> dict:
    """Adam on each code of z0 (K, N) to lower the objective's cost of its decoded state.

    All K codes go through the decoder as one batch; in evaluation mode the decoder treats
    samples independently and Adam is elementwise, so this is K independent optimizations.
    A non-finite cost or code stops it (:class:`NotFinite`), found where the trace is read, before
    a save or at the end.
    """
    K = len(z0)
    watch = _Watch("single-code search", objective, checkpoint, values=f"{K} codes",
                   codes=f"code z* for {{:.0f}} of {K} codes", advice="Check the model or lower explore.single_code.lr",
                   device=z0.device)
    z = z0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr, betas=tuple(betas))
    steps, trace, start = [], [], 0
    if (resume := _resume(checkpoint)) is not None:
        with torch.no_grad():
            z.copy_(resume["z"])
        opt.load_state_dict(resume["optimizer"])
        steps, trace, start = list(resume["steps"]), list(resume["cost"]), resume["iteration"]
    bar = watch.bar = _bar(iterations, f"single-code {objective.name}", progress, start)
    for it in range(start, iterations):
        cost = objective.cost(decoder(z))
        if it % record_every == 0:
            watch.check()  # the iterations before this one, read beside its costs
            steps.append(it)
            trace.append(cost.detach().cpu())
            bar.set_postfix(mean_cost=f"{float(trace[-1].mean()):.5g}", refresh=False)
        opt.zero_grad(set_to_none=True)
        cost.sum().backward()
        opt.step()
        watch.see(it + 1, cost, z)  # on the device: its cost, and the code it led to
        bar.update()
        if checkpoint is not None and it + 1 < iterations:
            checkpoint(lambda: watch.saving({"iteration": it + 1, "z": z.detach(), "optimizer": opt.state_dict(),
                                             "steps": steps, "cost": _stack(trace)}))
    bar.close()
    with torch.no_grad():
        final = objective.cost(decoder(z))
    watch.final = iterations + 1
    watch.see(watch.final, final, z)
    watch.check()
    final = final.cpu()
    steps.append(iterations)
    trace.append(final)
    return {"z": z0.detach().cpu(), "z_star": z.detach().cpu(), "steps": torch.tensor(steps),
            "cost": torch.stack(trace), "decodes": len(z0) * (iterations + 1)}


# --- genetic algorithm (Fig. 2b) --------------------------------------------------------------


def roulette_probabilities(fitness: Tensor, pressure: float) -> Tensor:
    """Linearly scaled roulette wheel: p_i ∝ 1 + (s - 1)(f_i - f_worst)/(f_best - f_worst), so the
    best individual is s times likelier than the worst whatever the sign or scale of f."""
    if pressure <= 0:
        raise ValueError(f"selection pressure must be > 0, got {pressure}")
    f = fitness.double()
    spread = f.max() - f.min()
    if not spread > 0:
        return torch.full_like(f, 1.0 / len(f))
    w = 1.0 + (pressure - 1.0) * (f - f.min()) / spread
    return w / w.sum()


def select_parents(p: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """(n, 2) parent indices, each drawn from p independently (with replacement)."""
    return torch.multinomial(p, 2 * n, replacement=True, generator=generator).view(n, 2)


def uniform_crossover(a: Tensor, b: Tensor, generator: torch.Generator) -> Tensor:
    """Each gene from parent a or b with probability 1/2."""
    mask = torch.rand(a.shape, generator=generator, device=a.device) < 0.5
    return torch.where(mask, a, b)


def mutate(population: Tensor, rate: float, generator: torch.Generator) -> Tensor:
    """Random-reset mutation: each gene replaced by a N(0, 1) draw with probability `rate`."""
    mask = torch.rand(population.shape, generator=generator, device=population.device) < rate
    fresh = torch.randn(population.shape, generator=generator, device=population.device)
    return torch.where(mask, fresh, population)


@torch.no_grad()
def genetic(decoder: Decoder, objective: Objective, population: Tensor, *, generations: int, pressure: float,
            mutation_rate: float, generator: torch.Generator, elitism: int = 0,
            snapshots: Sequence[int] = (), batch_size: int = 100, progress: bool = False,
            checkpoint: SearchCheckpoint | None = None) -> dict:
    """Evolve `population` (P, N) for `generations` generations (the initial one is generation 0).

    Each generation is decoded and scored; P children are built, each from two roulette-selected
    parents by uniform crossover and mutation; the `elitism` best individuals survive unchanged
    (paper: none). Returns per-generation statistics of the objective's value, the best code of
    every generation, the initial and final populations and their values, and the decoded best
    individual at the `snapshots` generations. A non-finite value or code stops it
    (:class:`NotFinite`) at the generation where it appears.
    """
    P = len(population)
    if not 0 <= elitism < P:
        raise ValueError(f"elitism must be in [0, population), got {elitism}")
    watch = _Watch("genetic search", objective, checkpoint, values=f"{P} individuals",
                   codes=f"code for {{:.0f}} of {P} individuals", unit="generation",
                   advice="Check the model and the objective's settings (explore.objectives)")
    initial = population.clone()
    stats, best_codes, snap_states, snap_gens = [], [], [], []
    first_values, start = None, 0
    if (resume := _resume(checkpoint)) is not None:
        population = resume["population"].to(population.device)
        stats, best_codes = list(resume["stats"]), list(resume["best_codes"])
        snap_states, snap_gens = list(resume["snapshot_states"]), list(resume["snapshot_generations"])
        first_values, start = resume["initial_values"], resume["generation"]
        generator.set_state(resume["generator"].cpu())  # generator states live on the CPU
    bar = watch.bar = _bar(generations, f"genetic {objective.name}", progress, start)
    for g in range(start, generations + 1):
        x = decode_in_batches(decoder, population, batch_size)
        value = objective.value(x)
        fitness = value if objective.maximize else -value
        # one read, as before: the best individual, and whether every value and code is finite
        best, bad_values, bad_codes = torch.stack([torch.argmax(fitness), (~torch.isfinite(value)).sum(),
                                                   (~torch.isfinite(population)).any(-1).sum()]).tolist()
        watch.now(g, bad_values, bad_codes)
        stats.append(torch.stack([value.min(), value.mean(), value.max()]).cpu())
        bar.set_postfix(best=f"{float(value[best]):.4g}", mean=f"{float(stats[-1][1]):.4g}", refresh=False)
        best_codes.append(population[best].cpu())
        if g in snapshots:
            snap_gens.append(g)
            snap_states.append(x[best].cpu())
        if g == 0:
            first_values = value.cpu()
        if g == generations:
            break
        p = roulette_probabilities(fitness, pressure)
        parents = select_parents(p, P, generator)
        children = mutate(uniform_crossover(population[parents[:, 0]], population[parents[:, 1]], generator),
                          mutation_rate, generator)
        if elitism:
            children[:elitism] = population[torch.topk(fitness, elitism).indices]
        population = children
        bar.update()
        if checkpoint is not None and g + 1 < generations:
            checkpoint(lambda: watch.saving({
                "generation": g + 1, "population": population, "stats": _stack(stats),
                "best_codes": _stack(best_codes), "snapshot_states": _stack(snap_states),
                "snapshot_generations": snap_gens, "initial_values": first_values,
                "generator": generator.get_state()}))
    bar.close()
    return {"stats": torch.stack(stats), "best_codes": torch.stack(best_codes), "initial": initial.cpu(),
            "final": population.cpu(), "initial_values": first_values, "final_values": value.cpu(),
            "snapshot_generations": torch.tensor(snap_gens, dtype=torch.long),
            "snapshot_states": torch.stack(snap_states) if snap_states else torch.zeros(0),
            "decodes": P * (generations + 1)}


# --- stochastic algorithm (Fig. 2c) ----------------------------------------------------------


def stochastic(decoder: Decoder, objective: Objective, latent_dim: int, *, samples: int, lr: float,
               generator: torch.Generator, betas: Sequence[float] = (0.9, 0.999), gamma_start: float = 1.0,
               gamma_factor: float = 0.1, gamma_every: int = 10_000, sigma_tol: float = 1e-2,
               max_iterations: int = 100_000, record_every: int = 10, device: torch.device | str = "cpu",
               progress: bool = False, checkpoint: SearchCheckpoint | None = None) -> dict:
    """Adam on μ* (from 0) and log σ* (from 0, so σ* = 1) minimizing
    ⟨Q⟩ + γ KL(N(μ*, σ*²) || N(0, I)) over `samples` codes z* = μ* + σ* ξ per iteration; γ starts
    at gamma_start and is multiplied by gamma_factor every gamma_every iterations. Stops when
    max σ* < sigma_tol (converged) or after max_iterations.

    Besides the traces, the distribution N(μ*, σ*²) at the end of every γ level (its last
    iteration, and the last iteration of the run): ``level_step``, ``level_gamma``, ``level_mu``,
    ``level_sigma``. Where the searched-for states appear in samples of the distribution while
    its centre μ* decodes to something else, these show at which γ (:func:`sample_levels`).

    A non-finite cost of a sample, μ* or σ* stops it (:class:`NotFinite`) at the iteration where
    it appears."""
    watch = _Watch("stochastic search", objective, checkpoint, values=f"{samples} samples",
                   codes=f"μ* or σ* in {{:.0f}} of {latent_dim} latent dimensions",
                   advice="Check the model or lower explore.stochastic.lr")
    mu = torch.zeros(latent_dim, device=device, requires_grad=True)
    log_sigma = torch.zeros(latent_dim, device=device, requires_grad=True)
    opt = torch.optim.Adam([mu, log_sigma], lr=lr, betas=tuple(betas))
    rec = {k: [] for k in ("step", "cost", "kl", "gamma", "sigma_mean", "sigma_max")}
    mus = []
    levels = {k: [] for k in ("level_step", "level_gamma", "level_mu", "level_sigma")}
    converged, start = False, 0
    if (resume := _resume(checkpoint)) is not None:
        with torch.no_grad():
            mu.copy_(resume["mu"])
            log_sigma.copy_(resume["log_sigma"])
        opt.load_state_dict(resume["optimizer"])
        rec = {k: list(v) for k, v in resume["records"].items()}
        mus = list(resume["mu_trace"])
        levels = {k: list(v) for k, v in resume["levels"].items()}
        start = resume["iteration"]
        generator.set_state(resume["generator"].cpu())  # generator states live on the CPU
    bar = watch.bar = _bar(max_iterations, f"stochastic {objective.name}", progress, start)
    it = start - 1
    for it in range(start, max_iterations):
        gamma = gamma_start * gamma_factor ** (it // gamma_every)
        sigma = log_sigma.exp()
        xi = torch.randn(samples, latent_dim, generator=generator, device=device)
        costs = objective.cost(decoder(mu + sigma * xi))
        q = costs.mean()
        kl = kl_divergence(mu[None], 2 * log_sigma[None])
        loss = q + gamma * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # one read, as before: σ*'s largest, and whether the costs and the new μ*, σ* are finite
        sigma_now = log_sigma.detach().exp()
        sigma_max, bad_values, bad_codes = torch.stack([
            sigma_now.max(), (~torch.isfinite(costs.detach())).sum(),
            (~(torch.isfinite(mu.detach()) & torch.isfinite(sigma_now))).sum()]).tolist()
        watch.now(it + 1, bad_values, bad_codes)
        if it % record_every == 0 or sigma_max < sigma_tol:
            for k, v in (("step", it), ("cost", q.item()), ("kl", kl.item()), ("gamma", gamma),
                         ("sigma_mean", float(log_sigma.detach().exp().mean())), ("sigma_max", sigma_max)):
                rec[k].append(v)
            mus.append(mu.detach().cpu().clone())
            # the log shows where the search stands, also when a job is stopped before it ends
            bar.set_postfix(cost=f"{rec['cost'][-1]:.4g}", gamma=f"{gamma:.0e}", sigma=f"{rec['sigma_mean'][-1]:.3f}",
                            mu=f"{float(mu.detach().norm()):.2f}", refresh=False)
        bar.update()
        converged = sigma_max < sigma_tol
        if converged or (it + 1) % gamma_every == 0 or it + 1 == max_iterations:
            for k, v in (("level_step", it), ("level_gamma", gamma), ("level_mu", mu.detach().cpu().clone()),
                         ("level_sigma", log_sigma.detach().exp().cpu())):
                levels[k].append(v)
        if converged:
            break
        if checkpoint is not None and it + 1 < max_iterations:
            checkpoint(lambda: watch.saving({
                "iteration": it + 1, "mu": mu.detach(), "log_sigma": log_sigma.detach(),
                "optimizer": opt.state_dict(), "records": rec, "mu_trace": _stack(mus),
                "levels": {k: _stack(v) if k in ("level_mu", "level_sigma") else v for k, v in levels.items()},
                "generator": generator.get_state()}))
    bar.close()
    levels = {k: torch.stack(v) if k in ("level_mu", "level_sigma") else torch.tensor(v) for k, v in levels.items()}
    return {**{k: torch.tensor(v) for k, v in rec.items()}, **levels, "mu_trace": torch.stack(mus),
            "mu": mu.detach().cpu(), "sigma": log_sigma.detach().exp().cpu(), "converged": converged,
            "iterations": it + 1, "decodes": samples * (it + 1)}


def sample_levels(level_mu: Tensor, level_sigma: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """n codes z* = μ* + σ* ξ from each recorded distribution of :func:`stochastic`
    (``level_mu``, ``level_sigma``: (levels, N)); returns (levels, n, N) on their device."""
    xi = torch.randn(level_mu.shape[0], n, level_mu.shape[1], generator=generator, device=level_mu.device)
    return level_mu[:, None] + level_sigma[:, None] * xi
