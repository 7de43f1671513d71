"""Fixtures of the training tests."""

import pytest
import torch


@pytest.fixture
def float64_by_default():
    """torch's default dtype float64 for the test (as a user's `torch.set_default_dtype` would make it): what
    must be float32 whatever the default is shows whether it names its dtype."""
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(dtype)
