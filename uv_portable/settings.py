"""Every setting of an export or build as one frozen value, with one validator per setting that
the config reader, the command line and the API all use, and the typed views each stage takes.

A value comes from a default, `[tool.uv-portable]`, a target table, a flag or the API; the
value remembers where (``origins``) so that errors and `uv-portable config` can say it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from uv_portable.errors import UsageError
from uv_portable.glibc_version import GlibcVersion
from uv_portable.publish.formats import (
    BY_NAME,
    FORMAT_NAMES,
    FormatError,
    check_level,
    resolve_format,
)
from uv_portable.publish.spark import guard_spark_format, parse_spark_version

if TYPE_CHECKING:
    from uv_portable.write.pyc_cache import Cache

INVALIDATION_MODES = ("unchecked-hash", "checked-hash")
# How the export's verifying run (and `check --run`) hides the host's Python.
SandboxRequest = Literal["auto", "bwrap", "unshare", "none"]
SANDBOX_REQUESTS: tuple[SandboxRequest, ...] = ("auto", "bwrap", "unshare", "none")
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z: the earliest time a zip member can carry


class Invalid(ValueError):
    """A value a setting does not accept: what was expected (the caller names where)."""

    def __init__(self, expected: str, hint: str = "") -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint


def _string(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("a non-empty string")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true or false")
    return value


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise Invalid("a list of strings")
    return tuple(value)


def _whole(low: int, high: int | None) -> Callable[[object], int]:
    def check(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid(_range_text(low, high))
        if value < low or (high is not None and value > high):
            raise Invalid(_range_text(low, high))
        return value

    return check


def _range_text(low: int, high: int | None) -> str:
    return f"a whole number from {low} to {high}" if high else f"a whole number of at least {low}"


def _one_of(choices: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value not in choices:
            raise Invalid("one of " + ", ".join(choices))
        assert isinstance(value, str)
        return value

    return check


def _glibc(value: object) -> str:
    try:
        GlibcVersion.parse(value if isinstance(value, str) else "")
    except ValueError:
        raise Invalid('a version like "2.28" or a tag like "manylinux_2_28"') from None
    assert isinstance(value, str)
    return value


def _spark(value: object) -> str:
    try:
        parse_spark_version(value if isinstance(value, str) else "")
    except ValueError:
        raise Invalid('a version like "3.5"') from None
    assert isinstance(value, str)
    return value


def _format(value: object) -> str:
    name = _one_of(FORMAT_NAMES)(value)
    return BY_NAME[name].name  # tgz -> tar.gz


@dataclass(frozen=True)
class Spec:
    """How one setting is spelled in the config and on the command line, and checked."""

    key: str  # in [tool.uv-portable]
    flag: str  # on the command line ("" when there is none)
    check: Callable[[object], Any]


# One entry per setting, in the order `uv-portable config` prints them.
SPECS: dict[str, Spec] = {
    "output": Spec("output", "OUT / --output", _string),
    "format": Spec("format", "--format", _format),
    "python": Spec("python", "--python", _string),
    "groups": Spec("groups", "--group", _strings),
    "extras": Spec("extras", "--extra", _strings),
    "no_dev": Spec("no-dev", "", _boolean),
    "exclude": Spec("exclude", "--exclude", _strings),
    "keep_tests": Spec("keep-tests", "--keep-tests", _boolean),
    "keep_config": Spec("keep-config", "--keep-config", _boolean),
    "target_glibc": Spec("target-glibc", "--target-glibc", _glibc),
    "compression_level": Spec("compression-level", "--level", _whole(0, 22)),
    "threads": Spec("threads", "--threads", _whole(1, None)),
    "arcroot": Spec("arcroot", "--arcroot", _string),
    "bundle": Spec("bundle", "--bundle", _boolean),
    "allow_missing": Spec("allow-missing", "--allow-missing", _strings),
    "base": Spec("base", "--base", _string),
    "compile": Spec("compile", "--compile", _boolean),
    "compile_tests": Spec("compile-tests", "--compile-tests", _boolean),
    "invalidation_mode": Spec(
        "invalidation-mode", "--invalidation-mode", _one_of(INVALIDATION_MODES)
    ),
    "entrypoint": Spec("entrypoint", "--entrypoint", _string),
    "sandbox": Spec("sandbox", "--sandbox", _one_of(SANDBOX_REQUESTS)),
    "spark": Spec("spark", "", _spark),
}
KEYS = {spec.key: name for name, spec in SPECS.items()}


def where(name: str, origin: str) -> str:
    """How a message names a setting: its flag, or its key where the config gave it."""
    spec = SPECS[name]
    if origin == "flag" and spec.flag:
        return spec.flag
    if origin == "api":
        return f"the {name} setting"
    return f"{origin} {spec.key}" if origin != "default" else spec.key


class SettingError(UsageError):
    """A setting's value was refused: the message names the setting where it came from."""

    def __init__(self, name: str, message: str, hint: str) -> None:
        super().__init__(message, hint)
        self.name = name


def check_value(name: str, value: object, origin: str) -> Any:
    """The value a setting takes, checked by its one validator (SettingError otherwise)."""
    try:
        return SPECS[name].check(value)
    except Invalid as exc:
        hint = exc.hint or (
            "see `uv-portable COMMAND --help` for the values it takes"
            if origin == "flag"
            else "fix the value (see docs/configuration.md)"
        )
        raise SettingError(
            name, f"{where(name, origin)}: expected {exc.expected}, got {value!r}", hint
        ) from None


@dataclass(frozen=True)
class PlanOptions:
    """What the planner takes from the settings."""

    keep_tests: bool = False
    keep_config: bool = False
    exclude: tuple[str, ...] = ()
    bundle: bool = True  # copy in the shared libraries the target host may lack
    allow_missing: tuple[str, ...] = ()  # sonames left to the target host (never bundled)
    target_glibc: GlibcVersion | None = None  # refuse files needing a newer glibc


@dataclass(frozen=True)
class CompileOptions:
    """How to compile an export's bytecode."""

    invalidation: str = "unchecked-hash"  # or "checked-hash"
    workers: int | None = None  # parallel worker processes (default: all cores)
    cache: Cache | None = None  # compiled pycs are taken from and stored in its pyc folder
    tests: bool = False  # also the sources in packages' test folders (see in_package_tests)


@dataclass(frozen=True)
class ArchiveOptions:
    """How to write an archive."""

    format: str
    level: int | None = None
    threads: int | None = None
    arcroot: str | None = None
    mtime: int = ZIP_EPOCH
    entrypoint: str | None = None  # OCI images: a console script of bin/ as Entrypoint


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH if set (reproducible builds), else 1980-01-01."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    if value.isdigit():
        return max(int(value), ZIP_EPOCH)
    return ZIP_EPOCH


@dataclass(frozen=True)
class Settings:
    """Every setting of an export or build, after defaults, config and flags are merged."""

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
    compile_tests: bool = False  # also packages' test folders (73% of the sources, measured)
    invalidation_mode: str = "unchecked-hash"
    entrypoint: str | None = None  # OCI images: a console script of bin/ as the Entrypoint
    sandbox: SandboxRequest = "auto"  # how the verifying run hides the host's Python
    spark: str | None = None  # "MAJOR.MINOR": the Spark the export is for (format guard)
    # Where each value that is not a default came from ("[tool.uv-portable] in FILE", "flag").
    origins: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def given(self, values: Mapping[str, object], origin: str) -> Settings:
        """A copy with values (field name -> raw value) checked and applied; None means "not
        given"."""
        checked: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            checked[name] = check_value(name, value, origin)
        origins = dict(self.origins)
        origins.update((name, origin) for name in checked)
        return replace(self, **checked, origins=tuple(origins.items()))

    def origin(self, name: str) -> str:
        """Where a setting's value came from."""
        return dict(self.origins).get(name, "default")

    def check_output(self, fmt: str) -> None:
        """SettingError when settings that depend on the output format do not fit it."""
        try:
            check_level(BY_NAME[fmt], self.compression_level)
        except FormatError as exc:
            name = "compression_level"
            raise SettingError(
                name, f"{where(name, self.origin(name))}: {exc.message}", exc.hint
            ) from None

    def format_for(self, out: Path) -> str:
        """The format of an output (its name and `format` must agree), checked together with
        the settings that depend on it."""
        try:
            fmt = resolve_format(out, self.format).name
        except FormatError as exc:
            origin = self.origin("format")
            message = exc.message if origin == "default" else f"{where('format', origin)}: {exc}"
            raise SettingError("format", message, exc.hint) from None
        self.check_output(fmt)
        return fmt

    def format_warnings(self, fmt: str) -> tuple[str, ...]:
        """Warnings about an output format for what the export is for (SettingError when it
        cannot work there at all, e.g. a .tar for Spark)."""
        try:
            warning = guard_spark_format(self.spark, fmt)
        except UsageError as exc:
            raise SettingError("spark", f"{exc} (from {self.origin('spark')})", exc.hint) from None
        return (warning,) if warning else ()

    @property
    def plan(self) -> PlanOptions:
        """The planner's options."""
        target = GlibcVersion.parse(self.target_glibc) if self.target_glibc else None
        return PlanOptions(
            keep_tests=self.keep_tests,
            keep_config=self.keep_config,
            exclude=self.exclude,
            bundle=self.bundle,
            allow_missing=self.allow_missing,
            target_glibc=target,
        )

    @property
    def bytecode(self) -> CompileOptions | None:
        """How to compile bytecode (None: do not compile)."""
        if not self.compile:
            return None
        return CompileOptions(
            invalidation=self.invalidation_mode, workers=self.threads, tests=self.compile_tests
        )

    def archive(self, fmt: str) -> ArchiveOptions | None:
        """How to write an archive or image of this format (None for a folder)."""
        if fmt == "dir":
            return None
        return ArchiveOptions(
            format=fmt,
            level=self.compression_level,
            threads=self.threads,
            arcroot=self.arcroot,
            mtime=source_date_epoch(),
            entrypoint=self.entrypoint,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view: config key -> value (for `uv-portable config`)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "origins":
                continue
            value = getattr(self, f.name)
            out[SPECS[f.name].key] = list(value) if isinstance(value, tuple) else value
        return out
