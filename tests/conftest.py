import numpy as np
import pytest

from bayesinv import Grid2D


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.fixture
def small_grid():
    return Grid2D(nx=12, nz=6, dx=10.0, dz=10.0)


@pytest.fixture
def surface_receivers():
    x = np.linspace(-20.0, 140.0, 9)
    return np.column_stack([x, np.zeros_like(x)])
