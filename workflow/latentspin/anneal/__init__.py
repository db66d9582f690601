"""Stage 1, the annealed data: heat-bath Monte Carlo of the Hamiltonian along a temperature schedule.

``driver`` chooses a kernel and runs it in batches; ``heatbath_numba`` (CPU), ``heatbath_torch``
(GPU) and ``heatbath_numpy`` (the test oracle) are three implementations of one sweep, drawing the
same numbers from ``random_stream``; ``shards`` is the job that anneals one shard of a split.
"""
