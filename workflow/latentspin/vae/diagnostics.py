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

from latentspin.physics import observables
from latentspin.physics.hamiltonian import Hamiltonian
from latentspin.vae.model import (
    VAE,
    decode_fields_in_batches,
    decode_in_batches,
    kl_per_dim,
    latent_radius,
    output_amplitude,
    reconstruction_loss,
)


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
    return observables.unit_vectors(field, dim=1), output_amplitude(field)


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
    m = observables.measure(observables.unit_vectors(field, dim=1), ham, nodal_threshold)
    out = {f"origin_{k}": float(v[0]) for k, v in m.items()}
    return out | {"origin_amplitude": float(output_amplitude(field)[0])}


def spin_physics(spins: torch.Tensor, ham: Hamiltonian, nodal_threshold: float | None = None) -> dict[str, np.ndarray]:
    """Energy density and the peak of the local energy density map of each configuration, and
    with a threshold its number of nodal points (:func:`physics.nodal_points`)."""
    m = observables.measure(spins, ham, nodal_threshold)
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
