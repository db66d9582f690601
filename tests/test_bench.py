import subprocess
import sys


def test_bench_anneal_prints_kernel_and_numpy_rates():
    r = subprocess.run([sys.executable, "-m", "latentspin", "bench", "anneal", "--L", "16", "--sweeps", "2",
                        "--seconds", "0.05", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.startswith(("numba", "numpy"))]
    assert [row[0] for row in rows] == ["numba", "numpy"]
    assert all(float(row[-2]) > 0 for row in rows)  # updates/s
    assert rows[-1][-1] == "1.0x"  # the baseline column is relative to NumPy
