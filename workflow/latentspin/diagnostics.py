"""Diagnostics of trained VAEs: the measurements behind the paper's choice of β.

Per model: validation reconstruction error; KL per latent dimension; active units (latent
dimensions whose posterior mean varies over the data, Cov_x(E[z_n|x]) > threshold; Burda et al.
2016); and the physics of decoded prior samples z ~ N(0, I) (X_VAE) against the data (X_IN):
energy density, peak local energy density and the number of nodal points of paper Fig. 1c;
and, beyond the paper, the same physics of the reconstructions of the validation data, which
separates what the decoder cannot draw (nodal points even where it is given the data's codes)
from what the prior adds.
Large β collapses the posterior (few active units, blurry X_VAE); small β leaves a latent
distribution far from N(0, I), so prior samples decode to implausible states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from . import physics
from .physics import Hamiltonian
from .vae import (VAE, decode_fields_in_batches, decode_in_batches, kl_per_dim, latent_radius, output_amplitude,
                  reconstruction_loss)


@torch.no_grad()
def decode_prior(model: VAE, n: int, seed: int, batch_size: int = 100, amplitude: bool = False):
    """X_VAE: n decoded samples of z ~ N(0, I), the network in evaluation mode; with `amplitude`,
    also the decoder's output amplitude of each, as (X_VAE, amplitudes)."""
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    z = torch.randn(n, model.cfg.latent_dim, generator=g, device=device)
    if not amplitude:
        return decode_in_batches(model.decoder, z, batch_size)
    field = decode_fields_in_batches(model.decoder, z, batch_size)
    return physics.unit_vectors(field, dim=1), output_amplitude(field)


@torch.no_grad()
def origin_field(model: VAE) -> torch.Tensor:
    """The decoder's output at z = 0 before its L2 normalization, (1, 3, L, L)."""
    model.eval()
    device = next(model.parameters()).device
    return model.decoder.field(torch.zeros(1, model.cfg.latent_dim, device=device))


def origin_state(model: VAE, ham: Hamiltonian, nodal_threshold: float) -> dict[str, float]:
    """The state decoded at z = 0 (module docstring): its ε, W, Mz, peak local ε, nodal points
    and the decoder's output amplitude there."""
    field = origin_field(model)
    m = physics.measure(physics.unit_vectors(field, dim=1), ham, nodal_threshold)
    out = {f"origin_{k}": float(v[0]) for k, v in m.items()}
    return out | {"origin_amplitude": float(output_amplitude(field)[0])}


def spin_physics(spins: torch.Tensor, ham: Hamiltonian, nodal_threshold: float | None = None) -> dict[str, np.ndarray]:
    """Energy density and the peak of the local energy density map of each configuration, and
    with a threshold its number of nodal points (:func:`physics.nodal_points`)."""
    m = physics.measure(spins, ham, nodal_threshold)
    keys = ("energy", "max_local_energy") + (("nodal_points",) if nodal_threshold is not None else ())
    return {k: m[k].numpy() for k in keys}


def diversity(spins: torch.Tensor) -> float:
    """1 - |mean over samples of S(r)|², averaged over sites: 0 when every configuration is the
    same (a collapsed decoder), about 1 for independent configurations with no mean texture."""
    return float(1.0 - spins.double().mean(dim=0).square().sum(dim=0).mean())


def data_reference(valid_x: torch.Tensor, ham: Hamiltonian, nodal_threshold: float) -> dict:
    """What every model is compared with: the data's ε, peak local ε, nodal points and diversity."""
    return {**spin_physics(valid_x, ham, nodal_threshold), "diversity": diversity(valid_x)}


@torch.no_grad()
def diagnose(model: VAE, valid_x: torch.Tensor, ham: Hamiltonian, *, beta: float, prior_samples: int,
             active_threshold: float, nodal_threshold: float, seed: int, batch_size: int = 100,
             data: dict | None = None) -> dict:
    """All diagnostics of one model; arrays as lists so the result is JSON. `data` is
    :func:`data_reference` of valid_x, computed here when not given (pass it for many models).
    Reconstructions decode the posterior means μ(x), batch by batch (never all held at once)."""
    model.eval()
    mus, logvars, recon, rc = [], [], [], 0.0
    for s in range(0, len(valid_x), batch_size):
        x = valid_x[s : s + batch_size]
        mu, logvar = model.encoder(x)
        x_rec = model.decoder(mu)
        rc += reconstruction_loss(x, x_rec).item() * len(x)
        recon.append(spin_physics(x_rec, ham, nodal_threshold))
        mus.append(mu)
        logvars.append(logvar)
    mu, logvar = torch.cat(mus), torch.cat(logvars)
    rec = {k: np.concatenate([r[k] for r in recon]) for k in recon[0]}
    kl_dim = kl_per_dim(mu, logvar).mean(dim=0).cpu().numpy()
    mu_var = mu.var(dim=0).cpu().numpy()
    data = data_reference(valid_x, ham, nodal_threshold) if data is None else data
    x_vae, amplitude = decode_prior(model, prior_samples, seed, batch_size, amplitude=True)
    xvae = spin_physics(x_vae, ham, nodal_threshold)
    physics_of = {"data": data, "recon": rec, "xvae": xvae}  # X_IN, its reconstructions, X_VAE
    return {
        "beta": beta,
        "latent_dim": int(mu.shape[1]),
        "valid_samples": int(len(valid_x)),
        "valid_rc": rc / len(valid_x),
        "kl_total": float(kl_dim.sum()),
        "active_units": int((mu_var > active_threshold).sum()),
        "active_threshold": active_threshold,
        "posterior_sigma_mean": float(torch.exp(0.5 * logvar).mean()),
        "data_energy_mean": float(data["energy"].mean()),
        "data_energy_std": float(data["energy"].std()),
        "xvae_energy_mean": float(xvae["energy"].mean()),
        "xvae_energy_std": float(xvae["energy"].std()),
        "recon_energy_mean": float(rec["energy"].mean()),
        **{f"{who}_{key}_mean": float(physics_of[who][key].mean())
           for key in ("max_local_energy", "nodal_points") for who in physics_of},
        "nodal_threshold": nodal_threshold,
        "data_diversity": data["diversity"],
        "xvae_diversity": diversity(x_vae),
        "xvae_amplitude_mean": float(amplitude.mean()),
        "data_latent_radius_mean": float(latent_radius(mu).mean()),
        **origin_state(model, ham, nodal_threshold),
        "prior_samples": prior_samples,
        "arrays": {
            "kl_per_dim": kl_dim.tolist(),
            "mu_variance": mu_var.tolist(),
            **{f"{who}_{key}": physics_of[who][key].tolist()
               for key in ("energy", "max_local_energy", "nodal_points") for who in physics_of},
        },
    }


def table(results: Sequence[Mapping]) -> pd.DataFrame:
    """One row per β, without the arrays, sorted by β descending (the paper's order)."""
    rows = [{k: v for k, v in r.items() if k != "arrays"} for r in results]
    return pd.DataFrame(rows).sort_values("beta", ascending=False).reset_index(drop=True)


def figure(results: Sequence[Mapping], histories: Mapping[float, pd.DataFrame], chosen_beta: float):
    """Six panels: training curves, reconstruction error and KL against β, active units, sorted KL
    per dimension, and the ε and peak-local-energy distributions of X_VAE and of the
    reconstructions against the data, with each one's mean number of nodal points."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    results = sorted(results, key=lambda r: -r["beta"])
    betas = [r["beta"] for r in results]
    colors = dict(zip(betas, sns.color_palette("viridis", len(betas))))
    label = {b: f"β={b:g}" + (" (used)" if np.isclose(b, chosen_beta) else "") for b in betas}
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    ax = axes[0, 0]
    for b in betas:
        if b in histories:
            h = histories[b]
            ax.plot(h["epoch"], h["valid_rc"], color=colors[b], label=label[b])
    ax.set(xlabel="epoch", ylabel="validation $L_{RC}$", yscale="log", title="(a) training")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    ax.plot(betas, [r["valid_rc"] for r in results], "o-", color="C0")
    ax.set(xscale="log", yscale="log", xlabel="β", title="(b) reconstruction and KL")
    ax.set_ylabel("validation $L_{RC}$", color="C0")
    ax2 = ax.twinx()
    ax2.plot(betas, [r["kl_total"] for r in results], "s--", color="C3")
    ax2.set_yscale("log")
    ax2.set_ylabel("$L_{KL}$ (nats)", color="C3")

    ax = axes[0, 2]
    ticks = [f"{b:g}" for b in betas]
    ax.bar(ticks, [r["active_units"] for r in results], color=[colors[b] for b in betas])
    ax.axhline(results[0]["latent_dim"], color="k", lw=0.8, ls=":")
    ax.set(xlabel="β", ylabel=f"active units (Var μ > {results[0]['active_threshold']:g})",
           title="(c) posterior collapse")
    ax2 = ax.twinx()
    ax2.plot(ticks, [r["xvae_diversity"] for r in results], "D-", color="C3", label="X_VAE")
    ax2.axhline(results[0]["data_diversity"], color="k", ls="--", lw=1, label="X_IN")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("diversity 1 - |<S(r)>|²", color="C3")
    ax2.legend(fontsize=7, loc="lower left")

    ax = axes[1, 0]
    for r in results:
        kl = np.sort(r["arrays"]["kl_per_dim"])[::-1]
        ax.plot(np.arange(1, len(kl) + 1), np.maximum(kl, 1e-6), color=colors[r["beta"]], label=label[r["beta"]])
    ax.set(yscale="log", xlabel="latent dimension (sorted)", ylabel="KL per dimension (nats)",
           title="(d) KL per latent dimension")

    # solid: decoded prior samples X_VAE; dashed: reconstructions of the validation data
    nodal = {who: f"{who}_nodal_points_mean" for who in ("data", "recon", "xvae")}
    for ax, key, xlabel, title in ((axes[1, 1], "energy", "energy density ε", "(e) ε of X_IN, reconstructions, X_VAE"),
                                   (axes[1, 2], "max_local_energy", "peak local energy density",
                                    "(f) nodal points: peak local ε")):
        data = results[0]["arrays"][f"data_{key}"]
        sns.kdeplot(x=data, ax=ax, color="k", lw=2, label=f"X_IN (valid): {results[0][nodal['data']]:.1f} nodal pts",
                    warn_singular=False)
        for r in results:
            for who, ls, name in (("xvae", "-", "X_VAE"), ("recon", "--", "recon.")):
                sns.kdeplot(x=r["arrays"][f"{who}_{key}"], ax=ax, color=colors[r["beta"]], ls=ls, warn_singular=False,
                            label=f"{name} {label[r['beta']]}: {r[nodal[who]]:.1f}")
        ax.set(xlabel=xlabel, title=title)
    axes[1, 2].legend(fontsize=6, title=f"mean nodal points (local ε > {results[0]['nodal_threshold']:g})",
                      title_fontsize=6)
    fig.tight_layout()
    return fig


def reconstruction_figure(model: VAE, x: torch.Tensor, title: str):
    """Validation inputs (top row) beside their reconstructions through z = μ (bottom row)."""
    import matplotlib.pyplot as plt

    from .plotting import colour_wheel, show_spins

    model.eval()
    with torch.no_grad():
        mu, _ = model.encoder(x)
        out = model.decoder(mu).cpu().numpy()
    x = x.cpu().numpy()
    n = len(x)
    fig, axes = plt.subplots(2, n + 1, figsize=(2.0 * (n + 1), 4.3), gridspec_kw={"width_ratios": [1] * n + [0.6]})
    for k in range(n):
        mse = float(((x[k] - out[k]) ** 2).mean())
        show_spins(axes[0, k], x[k], "X_IN" if k == 0 else None)
        show_spins(axes[1, k], out[k], f"X_OUT  mse={mse:.4f}")
    axes[1, n].set_axis_off()
    colour_wheel(axes[0, n])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def prior_samples_figure(model: VAE, ham: Hamiltonian, n: int, seed: int, data_peak: float):
    """X_VAE (top) and its local energy density map (bottom, paper Fig. 1c), and in the last
    column the state decoded at z = 0 (:func:`origin_state`); each titled with the decoder's output
    amplitude. Nodal points show as peaks far above the data's peak local energy density (dashed
    contour)."""
    import matplotlib.pyplot as plt

    from .plotting import show_spins

    x, amplitude = decode_prior(model, n, seed, amplitude=True)
    origin = origin_field(model)
    x = torch.cat([x, physics.unit_vectors(origin, dim=1)])
    amplitude = torch.cat([amplitude, output_amplitude(origin)]).tolist()
    local = physics.local_energy_density(x.double(), ham).cpu().numpy()
    x = x.cpu().numpy()
    fig, axes = plt.subplots(2, n + 1, figsize=(2.2 * (n + 1) + 1.2, 4.8), squeeze=False, layout="constrained")
    vmin, vmax = local.min(), local.max()
    for k in range(n + 1):
        name = f"X_VAE #{k}" if k < n else "z = 0"
        show_spins(axes[0, k], x[k], f"{name}, amplitude {amplitude[k]:.2f}")
        im = axes[1, k].imshow(local[k], origin="lower", cmap="magma", vmin=vmin, vmax=vmax)
        axes[1, k].contour(local[k], levels=[data_peak], colors="cyan", linewidths=0.8, linestyles="--")
        axes[1, k].set_xticks([])
        axes[1, k].set_yticks([])
        axes[1, k].set_title(f"peak {local[k].max():.2f}", fontsize=8)
    fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.9, label="local energy density")
    fig.suptitle("decoded prior samples X_VAE, the state decoded at the origin z = 0, and their local energy "
                 "density (dashed: the data's peak); amplitude: the decoder's output before normalization", fontsize=9)
    return fig
