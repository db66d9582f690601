"""latentspin: the study of Park et al. (Sci. Rep. 2022) as a Snakemake workflow.

Annealed spin configurations of a 2D chiral magnet, a VAE trained on them, and latent-space
optimization of energy, topological index, magnetization and correlations.
"""

__version__ = "0.1.0"
