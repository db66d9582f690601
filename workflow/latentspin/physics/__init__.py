"""The physics of the 2D chiral magnet, defined once for every stage: the Hamiltonian and its
spirals (plain arithmetic, no torch), the observables as batched, differentiable torch functions,
and textures with known answers (spirals, skyrmions).
"""
