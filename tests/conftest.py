import numpy as np
import pytest

import kubric_gen as kg


@pytest.fixture
def floor():
    return kg.Cube(name="floor", scale=(10, 10, 0.5), position=(0, 0, -0.5), motion="static", is_background=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
