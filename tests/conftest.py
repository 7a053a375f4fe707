"""Fixtures shared by every test file; helpers live in helpers.py."""

import numpy as np
import pytest


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return np.dtype(request.param)
