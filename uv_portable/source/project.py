"""``uv-portable build``: a fresh relocatable venv of a uv project, exported per its config."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from uv_portable.config import check_groups, read_toml
from uv_portable.errors import ToolError, UsageError
from uv_portable.process import run_tool
from uv_portable.settings import Settings

MIN_UV = (0, 5, 0)
_UV_HINTS = (  # the first text found in uv's output picks the hint: most specific first
    ("No interpreter found", "install that Python (`uv python install`) or change `python`"),
    (
        "Failed to download",
        "uv could not download the Python interpreter it needs: install it where there is "
        "network (`uv python install`), or set `python` to an installed interpreter",
    ),
    ("needs to be updated", "the lock file is out of date: run `uv lock` and commit uv.lock"),
    ("No `pyproject.toml` found", "run in a uv project folder, or pass the project path"),
    ("Unable to find lockfile", "create the lock file first: `uv lock`"),
    (
        "network",
        "uv could not reach the package index: connect, or warm uv's cache "
        "(`uv sync` once online) and retry",
    ),
    (
        "dns error",
        "uv could not reach the package index: connect, or warm uv's cache "
        "(`uv sync` once online) and retry",
    ),
    ("offline", "a package is not in uv's cache: run `uv sync` once with network access"),
)


def find_uv() -> str:
    """The uv binary, checked against the minimum version this tool needs."""
    uv = shutil.which("uv")
    minimum = ".".join(map(str, MIN_UV))
    if uv is None:  # a missing external tool: exit 6, as for patchelf
        raise ToolError(
            f"uv is not installed (uv-portable build needs uv >= {minimum})",
            "install it: `pip install uv` or see https://docs.astral.sh/uv/",
        )
    out = run_tool([uv, "--version"], what="uv --version").stdout
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    if match is None or tuple(int(g) for g in match.groups()) < MIN_UV:
        raise ToolError(
            f"uv is too old ({out.strip()}); uv-portable build needs uv >= {minimum}",
            "upgrade it: `uv self update` or `pip install -U uv`",
        )
    return uv


def find_project(path: Path) -> Path:
    """The uv project that path is in: the nearest folder at or above it with a
    pyproject.toml, as uv finds it."""
    start = Path(os.path.abspath(path))
    if not start.exists():
        raise UsageError(f"{start} does not exist", "pass the folder of a uv project")
    if start.is_file():
        start = start.parent
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    raise UsageError(
        f"no pyproject.toml in {start} or any folder above it",
        "run in a uv project folder, or pass the project path",
    )


def check_project(project: Path, settings: Settings) -> None:
    """Refuse, before uv runs, what uv would refuse later: no lock file, groups or extras the
    project does not define."""
    if not (project / "uv.lock").is_file():
        raise UsageError(f"no uv.lock in {project}", "create it first: `uv lock`")
    data = read_toml(project / "pyproject.toml")
    check_groups(data, settings, project / "pyproject.toml")


def create_project_venv(project: Path, venv: Path, settings: Settings) -> None:
    """Create a relocatable venv at `venv` and install the locked project, non-editable (the
    project checked first by check_project)."""
    python, groups, extras = settings.python, settings.groups, settings.extras
    uv = find_uv()
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    create = [uv, "venv", "--relocatable", "--quiet", str(venv)]
    name = project_name(project)
    if name:  # as `uv sync` names a project's venv; OCI images take title and version from it
        create += ["--prompt", name]
    if python:
        create += ["--python", python]
    run_tool(create, what="uv venv", cwd=str(project), env=env, hints=_UV_HINTS)
    sync = [
        uv,
        "sync",
        "--locked",
        "--no-editable",
        "--quiet",
        "--python",
        str(venv / "bin" / "python"),
    ]
    if settings.no_dev:
        sync.append("--no-dev")
    for group in groups:
        sync += ["--group", group]
    for extra in extras:
        sync += ["--extra", extra]
    run_tool(
        sync,
        what="uv sync",
        cwd=str(project),
        env=env,
        hints=_UV_HINTS,
        hint="run the same `uv sync` in the project to see uv's full output",
    )


def project_name(project: Path) -> str | None:
    """``[project] name`` of the project's pyproject.toml, if it has one."""
    try:
        data = read_toml(project / "pyproject.toml")
    except (OSError, UsageError):
        return None
    name = data.get("project", {}).get("name")
    return name if isinstance(name, str) and name else None


def temporary_venv_dir() -> Path:
    """A private temporary folder for the build venv."""
    return Path(tempfile.mkdtemp(prefix="uv-portable-build-"))


__all__ = ["ToolError", "create_project_venv", "find_project", "find_uv", "temporary_venv_dir"]
