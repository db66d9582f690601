"""Your first search: a trained decoder, an objective of your own in a few lines, one search, the
result as an OVF file for your simulator, and a picture. Run it first (docs/objectives.md):

    python examples/first_search.py --model results/vae/beta0.001/model.pt --out results/example

Any decoder the workflow trained will do: the smoke preset's (`snakemake --cores all --configfile
presets/smoke.yaml`, a few minutes) or the quick preset's. It writes, in --out: final.ovf (the
found state, OVF 2.0 binary 8, which Spirit, mumax3, OOMMF and ubermag read), search.png (the
state, and the objective along the search) and result.json (the numbers).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))  # the package, from a checkout

from latentspin.core.ovf import read_ovf, write_ovf  # noqa: E402
from latentspin.explore.algorithms import stochastic  # noqa: E402
from latentspin.explore.objectives import Objective  # noqa: E402
from latentspin.figures.style import plt, save_figure, show_spins  # noqa: E402
from latentspin.physics import observables  # noqa: E402
from latentspin.physics.hamiltonian import Hamiltonian  # noqa: E402
from latentspin.vae.model import load_model  # noqa: E402


# 1. An objective of your own: any torch function of decoded spins (n, 3, L, L) -> (n,). Here the
#    mean squared out-of-plane component <S_z²>, which an easy-axis anisotropy -K Σ S_z² rewards:
#    1 when every spin points along ±z, 1/3 for random spins, 1/2 for a spiral whose plane holds z.
def sz2(spins: torch.Tensor) -> torch.Tensor:
    return spins[:, 2].square().mean(dim=(-2, -1))


objective = Objective("sz2", maximize=True, value=sz2, description="<S_z²> (maximize)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one search on a trained decoder, exported as OVF")
    parser.add_argument("--model", required=True, help="a model.pt the workflow trained (results/vae/beta*/model.pt)")
    parser.add_argument("--out", default="results/example", help="folder for final.ovf, search.png, result.json")
    parser.add_argument("--iterations", type=int, default=600, help="iterations of the stochastic search")
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 2. The trained decoder (weights only; a changed or truncated file is refused, naming it), in
    #    evaluation mode as the workflow's searches use it.
    model = load_model(args.model).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    latent_dim, L = model.cfg.latent_dim, model.cfg.L

    # 3. One search: the paper's stochastic μ/σ algorithm (Adam on the mean and spread of a Gaussian
    #    of codes; γ, the weight of its KL term, divided by 10 every iterations // 3 steps).
    result = stochastic(model.decoder, objective, latent_dim, samples=16, lr=0.01, gamma_every=max(1, args.iterations // 3),
                        max_iterations=args.iterations, generator=torch.Generator().manual_seed(args.seed),
                        progress=True)
    with torch.no_grad():
        start, final = model.decoder(torch.zeros(2, latent_dim))[:1], model.decoder(result["mu"][None].repeat(2, 1))[:1]

    # 4. The found state as OVF 2.0, read back to show that it is what a simulator gets.
    path = write_ovf(out / "final.ovf", final[0].numpy(), title=f"{objective.description}, stochastic search")
    assert torch.equal(torch.from_numpy(read_ovf(path)[0]).float(), final[0])  # float32 spins, exactly

    # 5. Its physics (our Hamiltonian, here the paper's) and a picture.
    ham = Hamiltonian(J=1.0, D=0.3, dmi="bloch")
    numbers = {"L": L, "iterations": int(result["iterations"]), "objective_start": float(sz2(start)[0]),
               "objective_final": float(sz2(final)[0]),
               **{k: float(v[0]) for k, v in observables.measure(final, ham).items()}}
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained", gridspec_kw={"width_ratios": [1, 1.3]})
    show_spins(a, final[0].numpy(), f"found: ⟨S_z²⟩ = {numbers['objective_final']:.3f}\n"
                                    f"W = {round(numbers['W'])}, Mz = {numbers['Mz']:.2f}, ε = {numbers['energy']:.4f}")
    b.plot(result["step"].numpy(), -result["cost"].numpy())
    b.set(xlabel="iteration", ylabel="⟨S_z²⟩ of the samples", title="the search")
    save_figure(fig, out / "search.png")
    (out / "result.json").write_text(json.dumps(numbers, indent=1))
    print(json.dumps(numbers, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
