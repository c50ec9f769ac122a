"""``[tool.uv-portable]`` in pyproject.toml -> frozen Options; errors name the key."""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypedDict

from uv_portable.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

FORMATS = ("dir", "tar", "tar.gz", "tgz", "zip", "tar.zst")
INVALIDATION_MODES = ("unchecked-hash", "checked-hash")
_SECTION = "[tool.uv-portable]"


class ConfigError(UsageError):
    """Invalid ``[tool.uv-portable]`` configuration."""


@dataclass(frozen=True)
class Options:
    """Every setting of an export or build, after config and command line are merged."""

    output: str | None = None
    format: str | None = None
    python: str | None = None
    groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    no_dev: bool = True
    exclude: tuple[str, ...] = ()
    keep_tests: bool = False
    keep_config: bool = False
    target_glibc: str | None = None
    compression_level: int | None = None
    threads: int | None = None
    arcroot: str | None = None
    bundle: bool = True
    allow_missing: tuple[str, ...] = ()
    base: str | None = None  # a Windows venv's base install, as seen from this machine
    compile: bool = True  # hash-based pycs for every .py of the export
    compile_tests: bool = False  # ... including those in packages' test folders
    invalidation_mode: str = "unchecked-hash"
    sources: tuple[str, ...] = field(default=(), compare=False)  # where values came from

    def merged(self, **overrides: Any) -> Options:
        """A copy with the given overrides applied (command line beats config); None and empty
        lists mean "not given", lists become tuples."""
        given: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in overrides.items()
            if v is not None and v != []
        }
        return replace(self, **given)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (for ``uv-portable config``)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            out[f.name.replace("_", "-")] = list(value) if isinstance(value, tuple) else value
        return out


_KEYS = {f.name.replace("_", "-") for f in fields(Options)} - {"sources"}


def _where(target: str | None, key: str) -> str:
    section = _SECTION if target is None else f"[tool.uv-portable.targets.{target}]"
    return f"{section} {key}"


def _expect(ok: bool, target: str | None, key: str, expected: str, value: object) -> None:
    if not ok:
        raise ConfigError(
            f"{_where(target, key)}: expected {expected}, got {value!r}",
            "fix the value in pyproject.toml (see docs/configuration.md)",
        )


def _str_list(value: object, target: str | None, key: str) -> tuple[str, ...]:
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    _expect(ok, target, key, "a list of strings", value)
    assert isinstance(value, list)
    return tuple(value)


def _parse_table(table: dict[str, Any], target: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in table.items():
        if target is None and key == "targets":
            continue
        if key not in _KEYS:
            close = difflib.get_close_matches(key, sorted(_KEYS), n=1)
            hint = (
                f"did you mean `{close[0]}`?"
                if close
                else "known keys: " + ", ".join(sorted(_KEYS))
            )
            raise ConfigError(f"{_where(target, key)}: unknown key", hint)
        name = key.replace("-", "_")
        if key in ("output", "python", "arcroot", "base"):
            _expect(
                isinstance(value, str) and value != "", target, key, "a non-empty string", value
            )
        elif key == "format":
            _expect(value in FORMATS, target, key, "one of " + ", ".join(FORMATS), value)
        elif key in ("groups", "extras", "exclude", "allow-missing"):
            value = _str_list(value, target, key)
        elif key in ("no-dev", "keep-tests", "keep-config", "bundle", "compile", "compile-tests"):
            _expect(isinstance(value, bool), target, key, "true or false", value)
        elif key == "target-glibc":
            ok = isinstance(value, str) and bool(
                re.fullmatch(r"\d+\.\d+|manylinux_\d+_\d+_?\w*|manylinux(1|2010|2014)", value)
            )
            _expect(ok, target, key, 'a version like "2.28" or a tag like "manylinux_2_28"', value)
        elif key == "invalidation-mode":
            ok = value in INVALIDATION_MODES
            _expect(ok, target, key, "one of " + ", ".join(INVALIDATION_MODES), value)
        elif key == "compression-level":
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 22
            _expect(ok, target, key, "a whole number from 0 to 22", value)
        elif key == "threads":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
            _expect(ok, target, key, "a whole number of at least 1", value)
        values[name] = value
    return values


def load_config(project: Path, target: str | None = None) -> Options:
    """Read ``[tool.uv-portable]`` (and one target of it) from project/pyproject.toml."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        raise ConfigError(
            f"no pyproject.toml in {project}",
            "run in a uv project folder, or pass the project path",
        )
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject} is not valid TOML: {exc}", "fix the syntax") from exc
    table = data.get("tool", {}).get("uv-portable")
    if table is None:
        if target is not None:
            raise ConfigError(
                f"{pyproject} has no {_SECTION} section, so no target {target!r}",
                "add the section or drop --target",
            )
        return Options(sources=(f"defaults (no {_SECTION} in {pyproject})",))
    if not isinstance(table, dict):
        raise ConfigError(f"{_SECTION} must be a table", "write it as a [tool.uv-portable] section")
    values = _parse_table(table, None)
    sources = [f"{_SECTION} in {pyproject}"]
    targets = table.get("targets", {})
    if not isinstance(targets, dict) or not all(isinstance(t, dict) for t in targets.values()):
        raise ConfigError(
            f"{_SECTION} targets: expected tables like [tool.uv-portable.targets.NAME]",
            "see docs/configuration.md",
        )
    if target is not None:
        if target not in targets:
            known = ", ".join(sorted(targets)) or "none"
            raise ConfigError(
                f"{_SECTION} has no target {target!r} (known: {known})",
                "add [tool.uv-portable.targets." + target + "] or fix --target",
            )
        values.update(_parse_table(targets[target], target))
        sources.append(f"[tool.uv-portable.targets.{target}]")
    return Options(**values, sources=tuple(sources))


def target_names(project: Path) -> tuple[str, ...]:
    """The names of the targets defined in the project's config."""
    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return ()
    targets = data.get("tool", {}).get("uv-portable", {}).get("targets", {})
    return tuple(sorted(targets)) if isinstance(targets, dict) else ()


def check_config(path: Path, target: str | None = None) -> None:
    """Validate the config of a project folder (or its pyproject.toml) and all its targets."""
    project = path.parent if path.name == "pyproject.toml" else path
    load_config(project, target)
    for name in target_names(project):
        load_config(project, name)


class ExportOverrides(TypedDict):
    """The export options given on the command line (None: not given), as Options fields."""

    compile: bool | None
    compile_tests: bool | None
    invalidation_mode: str | None
    format: str | None
    compression_level: int | None
    threads: int | None
    arcroot: str | None
    keep_tests: bool | None
    keep_config: bool | None
    exclude: list[str] | None
    target_glibc: str | None
    allow_missing: list[str] | None
    bundle: bool | None


def export_overrides(
    fmt: str | None,
    level: int | None,
    threads: int | None,
    arcroot: str | None,
    keep_tests: bool | None,
    keep_config: bool | None,
    exclude: list[str] | None,
    target_glibc: str | None,
    allow_missing: list[str] | None,
    bundle: bool | None,
    compile_: bool | None,
    invalidation_mode: str | None,
    compile_tests: bool | None = None,
) -> ExportOverrides:
    """The export options that `export` and `build` share, checked, as Options overrides."""
    if invalidation_mode is not None and invalidation_mode not in INVALIDATION_MODES:
        raise UsageError(
            f"unknown invalidation mode {invalidation_mode!r}",
            "use " + " or ".join(INVALIDATION_MODES),
        )
    return ExportOverrides(
        compile=compile_,
        compile_tests=compile_tests,
        invalidation_mode=invalidation_mode,
        format=fmt,
        compression_level=level,
        threads=threads,
        arcroot=arcroot,
        keep_tests=keep_tests,
        keep_config=keep_config,
        exclude=exclude,
        target_glibc=target_glibc,
        allow_missing=allow_missing,
        bundle=bundle,
    )
