"""[tool.uv-portable] parsing: every key, every wrong type, unknown keys, targets, precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from uv_portable.config import ConfigError, load_config
from uv_portable.settings import Settings

FULL = """
[tool.uv-portable]
output = "dist/env.tar.gz"
format = "tar.gz"
python = "3.12"
groups = ["spark"]
extras = ["fast"]
no-dev = false
exclude = ["**/tests/*"]
keep-tests = true
keep-config = true
target-glibc = "2.28"
compression-level = 9
threads = 2
arcroot = "env"
compile = false
invalidation-mode = "checked-hash"
spark = "3.5"

[tool.uv-portable.targets.small]
output = "dist/small"
format = "dir"
groups = []
"""


PROJECT = """[project]
name = "x"
version = "1"
[project.optional-dependencies]
fast = []
[dependency-groups]
spark = []
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(PROJECT + text)
    return tmp_path


def test_every_key(tmp_path: Path) -> None:
    opts = load_config(write(tmp_path, FULL))
    assert opts == Settings(
        output="dist/env.tar.gz",
        format="tar.gz",
        python="3.12",
        groups=("spark",),
        extras=("fast",),
        no_dev=False,
        exclude=("**/tests/*",),
        keep_tests=True,
        keep_config=True,
        target_glibc="2.28",
        compression_level=9,
        threads=2,
        arcroot="env",
        compile=False,
        invalidation_mode="checked-hash",
        spark="3.5",
    )


def test_target_overrides_top_level(tmp_path: Path) -> None:
    opts = load_config(write(tmp_path, FULL), "small")
    assert (opts.output, opts.format, opts.groups) == ("dist/small", "dir", ())
    assert opts.python == "3.12"  # inherited
    assert opts.origin("output") == "[tool.uv-portable.targets.small]"
    assert opts.origin("python") == "[tool.uv-portable]"
    assert opts.origin("threads") == "[tool.uv-portable]"
    assert opts.origin("bundle") == "default"


def test_precedence_cli_over_config_over_defaults(tmp_path: Path) -> None:
    opts = load_config(write(tmp_path, '[tool.uv-portable]\noutput = "a"\nthreads = 3\n'))
    merged = opts.given({"output": "b", "threads": None}, "flag")  # None: not given
    assert (merged.output, merged.threads, merged.compression_level) == ("b", 3, None)
    assert (merged.origin("output"), merged.origin("threads")) == ("flag", "[tool.uv-portable]")
    assert Settings().no_dev is True and Settings().keep_tests is False


def test_no_section_means_defaults_and_says_so(tmp_path: Path) -> None:
    opts = load_config(write(tmp_path, ""))
    assert opts == Settings()
    assert opts.origin("output") == "default"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("output = 3", "output: expected a non-empty string, got 3"),
        ('output = ""', "output: expected a non-empty string"),
        ('format = "rar"', "format: expected one of dir, tar, tar.gz, tgz, tar.zst, zip"),
        ("python = 3.12", "python: expected a non-empty string, got 3.12"),
        ('groups = "spark"', "groups: expected a list of strings, got 'spark'"),
        ("extras = [1]", "extras: expected a list of strings"),
        ('no-dev = "yes"', "no-dev: expected true or false"),
        ("exclude = [true]", "exclude: expected a list of strings"),
        ("keep-tests = 1", "keep-tests: expected true or false"),
        ("keep-config = 'yes'", "keep-config: expected true or false"),
        ("target-glibc = 2", 'target-glibc: expected a version like "2.28"'),
        ('target-glibc = "latest"', "target-glibc: expected a version"),
        ("compression-level = 23", "compression-level: expected a whole number from 0 to 22"),
        ("compression-level = true", "compression-level: expected a whole number"),
        ("threads = 0", "threads: expected a whole number of at least 1"),
        ("arcroot = []", "arcroot: expected a non-empty string"),
        ('compile = "no"', "compile: expected true or false"),
        ('invalidation-mode = "timestamp"', "invalidation-mode: expected one of unchecked-hash"),
        ("spark = 3.5", 'spark: expected a version like "3.5", got 3.5'),
        ('spark = "3.5.1"', "spark: expected a version like \"3.5\", got '3.5.1'"),
        ('spark = "latest"', "spark: expected a version like"),
    ],
)
def test_wrong_values_name_the_key(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"[tool.uv-portable]\n{line}\n"))
    assert err.value.message.startswith("[tool.uv-portable] ")
    assert message in err.value.message


def test_spark_in_a_target(tmp_path: Path) -> None:
    text = '[tool.uv-portable]\n[tool.uv-portable.targets.cluster]\nspark = "4.1"\n'
    assert load_config(write(tmp_path, text), "cluster").spark == "4.1"
    assert load_config(write(tmp_path, text)).spark is None
    bad = '[tool.uv-portable]\n[tool.uv-portable.targets.cluster]\nspark = "4"\n'
    with pytest.raises(ConfigError, match=r"targets.cluster\] spark: expected a version"):
        load_config(write(tmp_path, bad), "cluster")


def test_wrong_value_in_a_target_names_the_target(tmp_path: Path) -> None:
    text = '[tool.uv-portable]\n[tool.uv-portable.targets.spark]\nthreads = "2"\n'
    with pytest.raises(ConfigError, match=r"\[tool.uv-portable.targets.spark\] threads"):
        load_config(write(tmp_path, text), "spark")


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("outptu", "output"),
        ("keep_tests", "keep-tests"),
        ("target_glibc", "target-glibc"),
        ("group", "groups"),
    ],
)
def test_unknown_key_did_you_mean(tmp_path: Path, key: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f'[tool.uv-portable]\n{key} = "x"\n'))
    assert f"{key}: unknown key" in err.value.message
    assert err.value.hint == f"did you mean `{suggestion}`?"


def test_unknown_target(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no target 'nope' \\(known: small\\)"):
        load_config(write(tmp_path, FULL), "nope")


def test_missing_pyproject_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no pyproject\.toml"):
        load_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.uv-portable\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('groups = ["nope"]', "defines no group 'nope' (defined: spark"),
        ('extras = ["nope"]', "defines no extra 'nope' (defined: fast"),
        ('output = "a.tar.gz"\nformat = "zip"', "format zip contradicts the name a.tar.gz"),
        ('output = "a.tar.gz"\ncompression-level = 15', "level 15 is out of range for tar.gz"),
        ('output = "a.tar.xz"', "unsupported archive type '.tar.xz'"),
        ('target-glibc = "manylinux_2_28x"', "target-glibc: expected a version"),
    ],
)
def test_settings_that_only_fail_together(tmp_path: Path, lines: str, message: str) -> None:
    """What the export would refuse after work, the config refuses up front, naming the file."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, f"[tool.uv-portable]\n{lines}\n"))
    assert message in err.value.message
    assert str(tmp_path / "pyproject.toml") in err.value.message
