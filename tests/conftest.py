"""Fixtures shared by several test files."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """One torch intra-op thread for the test: on a busy 2-core CI machine two OpenMP threads
    contend with the other tests' processes and a training step runs up to 20x slower (measured:
    66 ms vs 1.3 s). Tests that compare weights bit for bit run both sides under it (the kill
    test's subprocess sets 1 thread too); a test that needs another count sets it itself."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
