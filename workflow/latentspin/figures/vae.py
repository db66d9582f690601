"""The VAE stage's figures: the diagnostics that choose β, reconstructions, decoded prior samples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
import torch

from latentspin.core.devices import resolve_device, set_torch_threads
from latentspin.core.errors import ConfigError
from latentspin.core.io import write_csv, write_json
from latentspin.core.seeds import derive_seed
from latentspin.core.stores import check_split, load_spins, open_dataset, read_values
from latentspin.figures.inputs import evenly_spaced
from latentspin.figures.style import SMALL, colour_wheel, plt, save_figure, show_spins
from latentspin.physics import observables
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae.diagnostics import data_reference, decode_prior, diagnose, origin_field, spin_physics, table
from latentspin.vae.model import VAE, load_model, output_amplitude


def diagnostics_figure(results: Sequence[Mapping], histories: Mapping[float, pd.DataFrame], chosen_beta: float):
    """Six panels: training curves, reconstruction error and KL against β, active units, sorted KL
    per dimension, and the ε and peak-local-energy distributions of X_VAE and of the
    reconstructions against the data, with each one's mean number of nodal points."""
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
    ax.legend()

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
    ax2.legend(loc="lower left")

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
    axes[1, 2].legend(fontsize=SMALL, title=f"mean nodal points (local ε > {results[0]['nodal_threshold']:g})",
                      title_fontsize=SMALL)
    fig.tight_layout()
    return fig


def reconstruction_figure(model: VAE, x: torch.Tensor, title: str):
    """Validation inputs (top row) beside their reconstructions through z = μ (bottom row)."""
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
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def prior_samples_figure(model: VAE, ham: Hamiltonian, n: int, seed: int, data_peak: float):
    """X_VAE (top) and its local energy density map (bottom, paper Fig. 1c), and in the last
    column the state decoded at z = 0 (:func:`origin_state`); each titled with the decoder's output
    amplitude. Nodal points show as peaks far above the data's peak local energy density (dashed
    contour)."""
    x, amplitude = decode_prior(model, n, seed, amplitude=True)
    origin = origin_field(model)
    x = torch.cat([x, observables.unit_vectors(origin, dim=1)])
    amplitude = torch.cat([amplitude, output_amplitude(origin)]).tolist()
    local = observables.local_energy_density(x.double(), ham).cpu().numpy()
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
        axes[1, k].set_title(f"peak {local[k].max():.2f}")
    fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.9, label="local energy density")
    fig.suptitle("decoded prior samples X_VAE, the state decoded at the origin z = 0, and their local energy "
                 "density (dashed: the data's peak); amplitude: the decoder's output before normalization")
    return fig


def report(config: Mapping, models: Sequence[str | Path], histories: Sequence[str | Path], valid: str | Path,
           chosen_beta: float, *, json: str | Path, table_out: str | Path, figure_out, device: str = "auto",
           threads: int | None = None) -> pd.DataFrame:
    """The VAE report: every model diagnosed against the validation data (JSON with the
    per-dimension arrays, and a table), and drawn together (:func:`diagnostics_figure`)."""
    if len(models) != len(histories):
        raise ConfigError(f"the VAE report needs one history per model, in the same order: got {len(models)} "
                          f"models and {len(histories)} histories (--models, --histories)")
    set_torch_threads(threads)
    dev = resolve_device(device)
    valid_x, _ = load_spins(valid, dev)
    ham = Hamiltonian.from_config(config["hamiltonian"])
    d = config["vae"]["diagnostics"]
    threshold = config["explore"]["nodal_threshold"]
    data = data_reference(valid_x, ham, threshold)  # the same for every model
    results, curves = [], {}
    for model_path, history_path in zip(models, histories):
        model = load_model(model_path, dev)
        r = diagnose(model, valid_x, ham, beta=model.extra["beta"], prior_samples=d["prior_samples"],
                     active_threshold=d["active_threshold"], nodal_threshold=threshold,
                     seed=derive_seed(config["seed"], "vae-prior-samples"), data=data)
        curves[r["beta"]] = pd.read_csv(history_path)
        r["epochs"] = len(curves[r["beta"]])  # models of one report may be trained for different lengths
        results.append(r)
    t = table(results)
    write_json(results, json)
    write_csv(t, table_out)
    save_figure(diagnostics_figure(results, curves, chosen_beta), figure_out)
    return t


def draw_model(model_path: str | Path, valid: str | Path, reconstruction_out, samples_out, n: int = 6):
    """The explored model's two figures: n validation samples beside their reconstructions, and n
    decoded prior samples with their local energy density and the state decoded at z = 0."""
    model = load_model(model_path)
    ds = open_dataset(valid)
    shown, first = ds.isel(sample=evenly_spaced(ds.sizes["sample"], n)), ds.isel(sample=slice(0, 200))
    spins = {}
    for name, part in (("shown", shown), ("first", first)):  # each read once, checked, then drawn
        spins[name] = read_values(part, "spins", valid)
        check_split(part, valid, spins=spins[name])
    x = torch.from_numpy(spins["shown"])
    beta = model.extra["beta"]
    save_figure(reconstruction_figure(model, x, f"validation samples and reconstructions, β = {beta:g}"),
                reconstruction_out)
    ham = Hamiltonian.from_attrs(ds.attrs)
    reference = torch.from_numpy(spins["first"])
    data_peak = float(spin_physics(reference, ham)["max_local_energy"].max())
    save_figure(prior_samples_figure(model, ham, n, derive_seed(0, "figure-prior-samples"), data_peak), samples_out)
