"""One validator per setting: `config --check`, the command line and the API refuse the same
values, before any work, with exit 2; a config error names the key and the file, a flag error
names the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import cli
from uv_portable import api
from uv_portable.errors import UsageError
from uv_portable.settings import Settings

# (config lines, flags, output name, the API's settings, what every message says)
CASES = [
    ('format = "rar"', ["--format", "rar"], "out", {"format": "rar"}, "expected one of"),
    (
        "compression-level = 99",
        ["--level", "99"],
        "out.tar.gz",
        {"compression_level": 99},
        "from 0 to 22",
    ),
    (
        'output = "x.tar.gz"\ncompression-level = 15',
        ["--level", "15"],
        "out.tar.gz",
        {"compression_level": 15},
        "out of range for tar.gz",
    ),
    (
        'target-glibc = "manylinux_2_28x"',
        ["--target-glibc", "manylinux_2_28x"],
        "out",
        {"target_glibc": "manylinux_2_28x"},
        'a version like "2.28"',
    ),
    ("threads = 0", ["--threads", "0"], "out", {"threads": 0}, "at least 1"),
    (
        'invalidation-mode = "timestamp"',
        ["--invalidation-mode", "timestamp"],
        "out",
        {"invalidation_mode": "timestamp"},
        "one of unchecked-hash",
    ),
    (
        'output = "x.tar.gz"\nformat = "zip"',
        ["--format", "zip"],
        "out.tar.gz",
        {"format": "zip"},
        "contradicts the name",
    ),
    ('output = "x.tar.xz"', [], "out.tar.xz", {}, "unsupported archive type"),
]


@pytest.mark.parametrize(("lines", "flags", "name", "values", "says"), CASES)
def test_config_cli_and_api_agree(
    small_venv: Path,
    tmp_path: Path,
    lines: str,
    flags: list[str],
    name: str,
    values: dict[str, object],
    says: str,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    pyproject = project / "pyproject.toml"
    pyproject.write_text(f'[project]\nname = "p"\nversion = "1"\n[tool.uv-portable]\n{lines}\n')
    checked = cli("config", "--check", str(project))
    assert checked.returncode == 2, checked.stderr
    assert says in checked.stderr and str(pyproject) in checked.stderr

    out = tmp_path / "outputs" / name
    if flags:
        proc = cli("export", str(small_venv), str(out), *flags)
        assert proc.returncode == 2, proc.stderr
        assert says in proc.stderr and flags[0] in proc.stderr
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "outputs").exists()  # refused before any work

    with pytest.raises(UsageError, match=says.replace("(", r"\(")):
        api.export(small_venv, out, Settings().given(values, "api"))
    assert not (tmp_path / "outputs").exists()
