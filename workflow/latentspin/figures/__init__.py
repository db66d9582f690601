"""Stage 4, what a reader sees: one module per figure (``fig1`` ... ``fig5``, ``convergence``,
``paths``, ``levels``, ``relaxation``, and the data and VAE stages' figures), the claims table, the
shared style and panels, and the inputs they read from the workflow's outputs.
"""
