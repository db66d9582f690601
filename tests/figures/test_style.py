import numpy as np
import pytest
from latentspin.figures.style import sample_grid, spin_rgb


@pytest.mark.parametrize("spin, rgb", [
    ((0, 0, 1), (1, 1, 1)),      # +z white
    ((0, 0, -1), (0, 0, 0)),     # -z black
    ((1, 0, 0), (1, 0, 0)),      # +x red (hue 0)
    ((-1, 0, 0), (0, 1, 1)),     # -x cyan (hue 1/2)
    ((0, 1, 0), (0.5, 1, 0)),    # +y hue 1/4
])
def test_paper_colour_convention(spin, rgb):
    s = np.array(spin, dtype=float).reshape(3, 1, 1) * np.ones((3, 2, 2))
    np.testing.assert_allclose(spin_rgb(s)[0, 0], rgb, atol=1e-12)


def test_half_up_spin_is_a_pale_colour():
    s = np.array([np.sqrt(0.75), 0, 0.5]).reshape(3, 1, 1)
    np.testing.assert_allclose(spin_rgb(s)[0, 0], (1, 0.5, 0.5), atol=1e-12)


def test_sample_grid_has_a_panel_per_sample_and_a_wheel():
    s = np.random.default_rng(0).normal(size=(5, 3, 8, 8))
    fig = sample_grid(s / np.linalg.norm(s, axis=1, keepdims=True), ncols=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6  # five samples and the colour wheel
