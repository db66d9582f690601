"""Stage 3, the latent-space search: the objectives, the paper's three algorithms, one search of the
workflow (``search``: an algorithm on an objective, with its relaxation check and files) and the
metrics table of all searches.
"""
