"""Shared fixtures: a small real venv, and the sandbox requirement."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import make_venv


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test's exports get an empty cache of their own (UV_PORTABLE_CACHE_DIR, outside
    tmp_path), so that what one test compiled never turns into another's "from the cache"."""
    monkeypatch.setenv("UV_PORTABLE_CACHE_DIR", str(tmp_path_factory.mktemp("uvp-cache")))


@pytest.fixture(scope="session")
def small_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A uv relocatable venv on managed-style CPython 3.12 with one console-script package.

    Tests must not modify it; those that need to, copy it first.
    """
    return make_venv(tmp_path_factory.mktemp("small") / "venv", "3.12", ["cowsay"])


@pytest.fixture
def small_venv_copy(small_venv: Path, tmp_path: Path) -> Path:
    """A private copy of small_venv that a test may damage."""
    dest = tmp_path / "venv"
    shutil.copytree(small_venv, dest, symlinks=True)
    return dest


@pytest.fixture(scope="session")
def bwrap() -> str:
    """bubblewrap must be here: .ci/run installs it, so a missing one is a failure."""
    found = shutil.which("bwrap")
    if found is None:
        pytest.fail("bubblewrap is not installed (apt-get install bubblewrap); .ci/run installs it")
    return found
