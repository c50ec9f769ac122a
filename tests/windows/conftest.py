"""Session fixtures for Windows tests: one Wine session (always ended with wineserver -k) and
Windows venvs built by Windows uv under Wine, for CPython 3.12 and 3.13."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.windows.fixtures import WinVenv, llvm_tools_present, make_win_venv, wine_prefix
from uv_portable.windows.wine import wine_session


@pytest.fixture(scope="session")
def wine_env() -> Iterator[dict[str, str]]:
    """A running wineserver on the cached test prefix; ended with `wineserver -k`."""
    if shutil.which("wine") is None:
        pytest.fail("wine is not installed (apt-get install wine64 wine); .ci/run installs it")
    if not llvm_tools_present():
        pytest.fail("llvm-14/lld-14 are not installed (apt-get install lld-14); .ci/run does")
    prefix, _ = wine_prefix()
    with wine_session(prefix) as env:
        yield env


@pytest.fixture(scope="session")
def win_venvs(
    wine_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], WinVenv]:
    """Windows venvs by CPython minor, each built once per session."""
    made: dict[str, WinVenv] = {}

    def get(minor: str) -> WinVenv:
        if minor not in made:
            made[minor] = make_win_venv(minor, tmp_path_factory.mktemp(f"win{minor}"), wine_env)
        return made[minor]

    return get


@pytest.fixture(scope="session", params=["3.12", "3.13"])
def win_venv(request: pytest.FixtureRequest, win_venvs: Callable[[str], WinVenv]) -> WinVenv:
    """A relocatable Windows venv with numpy, markupsafe, shapely (delvewheel), cowsay and a
    pip-style launcher. Tests must not modify it; copy it first."""
    return win_venvs(request.param)


@pytest.fixture(scope="session")
def light_venv(wine_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> WinVenv:
    """A 3.12 venv without numpy (markupsafe, shapely, cowsay, a pip launcher)."""
    return make_win_venv("3.12", tmp_path_factory.mktemp("light"), wine_env, light=True)


@pytest.fixture(scope="session")
def absolute_venv(wine_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> WinVenv:
    """Like light_venv, made without --relocatable: absolute launchers and activate scripts."""
    where = tmp_path_factory.mktemp("absolute")
    return make_win_venv("3.12", where, wine_env, light=True, relocatable=False)


@pytest.fixture
def venv_copy(light_venv: WinVenv, tmp_path: Path) -> WinVenv:
    """A private, hard-linked copy of the light venv (and the same base) that a test may
    damage: replace files with `replace_file`, never write into them."""
    copy = tmp_path / light_venv.venv.name
    shutil.copytree(light_venv.venv, copy, copy_function=os.link)
    return WinVenv(light_venv.minor, light_venv.base, copy)
