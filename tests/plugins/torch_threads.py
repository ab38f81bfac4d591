"""Test helper: the tiny model tests run with one intra-op thread, several times faster than many
on a shared machine (and bit-reproducible). A test folder opts in by importing the fixture into
its ``conftest.py``."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
