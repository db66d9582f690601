"""Stage 2, the variational autoencoder: the network (``model``, ``layers``), its training loop
(``training``) and the diagnostics that choose β (``diagnostics``).
"""
