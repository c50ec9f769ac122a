"""The quick commands: `--version` and `config --check` answer without the CLI framework or
the pipeline, and agree with the full CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli
from uv_portable.entry import _config_check_args

# Modules a quick command must not import: the CLI framework, the pipeline, the readers.
HEAVY = (
    "typer",
    "click",
    "rich",
    "pydantic",
    "elftools",
    "macholib",
    "zstandard",
    "zlib_ng",
    "uv_portable.cli",
    "uv_portable.api",
    "uv_portable.publish.archive",
    "uv_portable.binaries.elf",
    "uv_portable.binaries.macho",
    "uv_portable.plan",
)
# Runs a command through the console entry point and reports what was imported.
RUN = """
import json, sys
from uv_portable.entry import quick
code = quick(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _imported(*argv: str, cwd: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *argv], capture_output=True, text=True, cwd=cwd, check=True
    )
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def _heavy(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY]


@pytest.mark.parametrize(
    "argv",
    [["--version"], ["config", "--check"], ["config", "--check", "pyproject.toml"]],
)
def test_quick_commands_import_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.uv-portable]\noutput = "x"\n')
    result = _imported(*argv, cwd=tmp_path)
    assert result["code"] == 0
    assert _heavy(result["modules"]) == []


def test_the_cli_module_imports_no_pipeline() -> None:
    """`--help` loads the CLI framework, but none of the pipeline."""
    code = "import sys, uv_portable.cli; print('\\n'.join(sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = proc.stdout.split()
    assert "typer" in modules
    framework = ("typer", "click", "uv_portable.cli")
    assert [
        m for m in _heavy(modules) if m.split(".")[0] not in framework and m not in framework
    ] == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["config", "--check"], ([], None)),
        (
            ["config", "--check", "a", "b/pyproject.toml"],
            ([Path("a"), Path("b/pyproject.toml")], None),
        ),
        (["config", "a", "--check", "--target", "spark"], ([Path("a")], "spark")),
        (["config", "--target=spark", "--check"], ([], "spark")),
        (["config"], None),
        (["config", "--check", "--json"], None),
        (["config", "--check", "--help"], None),
        (["config", "--check", "--target"], None),
        (["config", "--check", "--target", "a", "--target", "b"], None),
        (["config", "--check", "--check"], None),
        (["export", "--check"], None),
        ([], None),
    ],
)
def test_only_the_exact_config_check_form_is_answered_quickly(
    argv: list[str], expected: tuple[list[Path], str | None] | None
) -> None:
    assert _config_check_args(argv) == expected


@pytest.mark.parametrize("quick", [True, False])
def test_quick_and_full_cli_report_the_same_error(quick: bool, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.uv-portable]\nthreads = 0\n")
    # "--" stops the quick path: the full CLI (typer) then answers the same command.
    argv = (
        ["config", "--check", str(tmp_path)]
        if quick
        else ["config", "--check", "--", str(tmp_path)]
    )
    proc = cli(*argv)
    assert proc.returncode == 2
    expected = "[tool.uv-portable] threads: expected a whole number of at least 1, got 0"
    pyproject = tmp_path / "pyproject.toml"
    assert proc.stderr.splitlines()[0] == f"uv-portable: error: {expected} (in {pyproject})"


def test_version() -> None:
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("uv-portable ")
