"""The counter-based random stream of the heat bath, shared by its three kernels.

Site (y, x) at sweep t of a sample with key (k1, k2) (:func:`latentspin.core.seeds.sample_keys`)
draws from the counter ``t * L * L + y * L + x``: ``r = mix64(mix64(k1 + counter * GAMMA) ^ k2)``,
with ``mix64`` the SplitMix64 finalizer (xor-shifts by 30, 27 and 31, multiplications by M1 and
M2, all modulo 2**64). The high and low 32 bits of r give the two uniforms in [0, 1) of one
update. A sample's chain therefore depends only on its key and the schedule, never on threads,
shards, batches or layout. Sweep 0 is the random initial state; heat-bath sweeps count from 1.

The constants live here, as unsigned integers, so that the numba kernel, its torch twin and the
NumPy reference each build their own typed copies of the same numbers, and none of them takes its
definition from another.
"""

GAMMA = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: the stream's increment
M1 = 0xBF58476D1CE4E5B9  # SplitMix64's finalizer multipliers
M2 = 0x94D049BB133111EB
SHIFTS = (30, 27, 31)  # its xor-shifts, in order
