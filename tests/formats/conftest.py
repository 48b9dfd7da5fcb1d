"""Shared helpers of the file-format tests."""

import pytest


@pytest.fixture
def write(tmp_path):
    """Write ``text`` to a file named ``name`` in a temporary folder and return its path."""

    def _write(name, text):
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write
