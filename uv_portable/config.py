"""``[tool.uv-portable]`` in pyproject.toml -> Settings; errors name the key and the file."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

from uv_portable.errors import UsageError
from uv_portable.settings import KEYS, SettingError, Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

_SECTION = "[tool.uv-portable]"


class ConfigError(UsageError):
    """Invalid ``[tool.uv-portable]`` configuration."""


def _section(target: str | None) -> str:
    return _SECTION if target is None else f"[tool.uv-portable.targets.{target}]"


def _apply_table(
    settings: Settings, table: dict[str, Any], target: str | None, pyproject: Path
) -> Settings:
    """Settings with one table's keys applied, each checked by its setting's validator."""
    values: dict[str, object] = {}
    for key, value in table.items():
        if target is None and key == "targets":
            continue
        if key not in KEYS:
            close = difflib.get_close_matches(key, sorted(KEYS), n=1)
            hint = (
                f"did you mean `{close[0]}`?" if close else "known keys: " + ", ".join(sorted(KEYS))
            )
            raise ConfigError(f"{_section(target)} {key}: unknown key (in {pyproject})", hint)
        values[KEYS[key]] = value
    try:
        return settings.given(values, _section(target))
    except SettingError as exc:
        raise ConfigError(
            f"{exc.message} (in {pyproject})",
            exc.hint or "fix the value in pyproject.toml (see docs/configuration.md)",
        ) from None


def read_toml(pyproject: Path) -> dict[str, Any]:
    """A pyproject.toml as data (ConfigError when it is not TOML)."""
    try:
        data: dict[str, Any] = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject} is not valid TOML: {exc}", "fix the syntax") from exc


def load_config(project: Path, target: str | None = None) -> Settings:
    """Read ``[tool.uv-portable]`` (and one target of it) from project/pyproject.toml."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        raise ConfigError(
            f"no pyproject.toml in {project}",
            "run in a uv project folder, or pass the project path",
        )
    data = read_toml(pyproject)
    table = data.get("tool", {}).get("uv-portable")
    if table is None:
        if target is not None:
            raise ConfigError(
                f"{pyproject} has no {_SECTION} section, so no target {target!r}",
                "add the section or drop --target",
            )
        return Settings()
    if not isinstance(table, dict):
        raise ConfigError(f"{_SECTION} must be a table", "write it as a [tool.uv-portable] section")
    settings = _apply_table(Settings(), table, None, pyproject)
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
        settings = _apply_table(settings, targets[target], target, pyproject)
    check_groups(data, settings, pyproject)
    try:
        if settings.output is not None:
            settings.format_for(Path(settings.output))
        elif settings.format is not None:
            settings.check_output(settings.format)
    except SettingError as exc:
        raise ConfigError(f"{exc.message} (in {pyproject})", exc.hint) from None
    return settings


def check_groups(data: dict[str, Any], settings: Settings, pyproject: Path) -> None:
    """Refuse groups and extras that the project does not define (uv would, after work)."""
    defined_groups = data.get("dependency-groups", {})
    defined_extras = data.get("project", {}).get("optional-dependencies", {})
    wanted = (
        ("group", "groups", settings.groups, defined_groups),
        ("extra", "extras", settings.extras, defined_extras),
    )
    for kind, name, asked, defined in wanted:
        for value in asked:
            if value not in defined:
                known = ", ".join(sorted(defined)) or "none"
                origin = settings.origin(name)
                where = f"--{kind}" if origin == "flag" else f"{origin} {name}"
                raise ConfigError(
                    f"{where}: the project defines no {kind} {value!r} (defined: {known}; "
                    f"in {pyproject})",
                    f"add it to the project, or fix {where}",
                )


def describe(project: Path, settings: Settings) -> str:
    """Where a project's settings came from, in one line (`build` prints it)."""
    pyproject = project / "pyproject.toml"
    tables = sorted({o for _, o in settings.origins if o.startswith("[tool.uv-portable")})
    if not tables:
        return f"defaults (no {_SECTION} in {pyproject})"
    return f"{'; '.join(tables)} in {pyproject}"


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
