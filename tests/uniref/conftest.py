"""UniRef++ tests run tiny models: one intra-op thread is several times faster than many on a
shared machine (and keeps results bit-reproducible)."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
