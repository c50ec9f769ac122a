"""Pure text transforms: shebangs, activate scripts, pyvenv.cfg, .pth lines, _sysconfigdata."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

# The same trampoline uv writes for relocatable venvs: /bin/sh finds the script's real folder
# and re-executes it with the `python` next to it, so scripts work from any location.
_TRAMPOLINE = (
    "#!/bin/sh\n"
    '\'\'\'exec\' "$(dirname -- "$(realpath -- "$0")")"/\'{python}\'{args} "$0" "$@"\n'
    "' '''\n"
)
_LONG_SHEBANG = re.compile(r"^'''exec' '?(?P<path>/[^' ]+)'?(?P<args>[^\"]*?) \"\$0\" \"\$@\"$")
_RELOCATABLE = re.compile(
    r"^'''exec' \"\$\(dirname -- \"\$\(realpath -- \"\$0\"\)\"\)\"/'(?P<name>[^']+)'"
    r"(?P<args>[^\"]*?) \"\$0\" \"\$@\"$"
)


# A Python interpreter's file name: python, python3, python3.12, and the free-threaded
# python3t, python3.13t.
PYTHON_NAME = re.compile(r"^python(\d(\.\d+)?t?)?$")


def trampoline(python: str = "python", args: str = "") -> bytes:
    """The relocatable header that replaces an absolute shebang."""
    extra = f" {args}" if args else ""
    return _TRAMPOLINE.format(python=python, args=extra).encode()


@dataclass(frozen=True)
class Shebang:
    """What runs a script: its interpreter (``/usr/bin/env NAME`` resolved to NAME) and
    arguments, and how many header lines name it (3 for the ``'\'\'\'exec'`` forms)."""

    interpreter: str  # an absolute path, a bare name found on PATH, or "python" (relocatable)
    args: str
    lines: int = 1
    relocatable: bool = False  # uv's header: the ``python`` next to the script's real path


_ENV_OPTIONS_WITH_VALUE = frozenset({"-u", "--unset", "-C", "--chdir"})


def _resolve_env(interpreter: str, words: list[str]) -> tuple[str, list[str]]:
    """``/usr/bin/env [-S] [-i] [-u NAME] [VAR=value] NAME args`` -> (NAME, args)."""
    if posixpath.basename(interpreter) != "env":
        return interpreter, words
    rest = list(words)
    while rest:
        word = rest[0]
        if word in _ENV_OPTIONS_WITH_VALUE:
            rest = rest[2:]
        elif word.startswith("-S") and len(word) > 2:  # -Spython3 -E: one word split by env
            rest = [word[2:], *rest[1:]]
        elif word.startswith("-") or ("=" in word and not word.startswith("/")):
            rest = rest[1:]  # -S, -i, -, --ignore-environment, --unset=X, VAR=value
        else:
            return word, rest[1:]
    return interpreter, []


def parse_shebang(data: bytes) -> Shebang | None:
    """The interpreter a script names, or None when it has no shebang.

    Knows ``#!/abs/prog [args]``, ``#!/usr/bin/env [-S] NAME [args]``, the ``#!/bin/sh`` +
    ``'\'\'\'exec' '/abs/python'`` form installers use for shebangs longer than the kernel
    allows, and uv's relocatable header (which runs the ``python`` beside the script).
    """
    if not data.startswith(b"#!"):
        return None
    first, _, rest = data.partition(b"\n")
    command = first[2:].strip().decode(errors="surrogateescape")
    words = command.split()
    if not words:
        return None
    if words == ["/bin/sh"] or words == ["/usr/bin/sh"]:
        second, _, tail = rest.partition(b"\n")
        third = tail.partition(b"\n")[0]
        line = second.rstrip(b"\r").decode(errors="surrogateescape")
        if third.strip() == b"' '''":
            found = _LONG_SHEBANG.match(line)
            if found:
                return Shebang(found["path"], found["args"].strip(), lines=3)
            found = _RELOCATABLE.match(line)
            if found:
                return Shebang(found["name"], found["args"].strip(), lines=3, relocatable=True)
    interpreter, args = _resolve_env(words[0], words[1:])
    return Shebang(interpreter, " ".join(args))


def rewrite_shebang(data: bytes, is_build_python: Callable[[str], bool]) -> bytes | None:
    """Return the script with a relocatable header, or None when nothing needs to change.

    Only a script whose interpreter is the build's Python (``is_build_python`` of an absolute
    path) is rewritten; one run by bash, perl, sh or a Python found on PATH keeps its shebang.
    """
    shebang = parse_shebang(data)
    if shebang is None or shebang.relocatable:
        return None
    if not shebang.interpreter.startswith("/") or not is_build_python(shebang.interpreter):
        return None
    parts = data.split(b"\n", shebang.lines)
    body = parts[shebang.lines] if len(parts) > shebang.lines else b""
    return trampoline(args=shebang.args) + body


# uv's activate scripts differ between relocatable and absolute venvs in these lines only.
_ACTIVATE_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "activate": (
        (
            "VIRTUAL_ENV='{venv}'",
            'VIRTUAL_ENV=\'\'"$(dirname -- "$(dirname -- "$(realpath -- "$SCRIPT_PATH")")")"\'\'',
        ),
        ('if [ "false" = "true" ]; then', 'if [ "true" = "true" ]; then'),
    ),
    "activate.fish": (
        (
            "set -gx VIRTUAL_ENV '{venv}'",
            "set -gx VIRTUAL_ENV ''(dirname -- (dirname -- (realpath -- (status -f))))''",
        ),
    ),
    "activate.nu": (
        (
            "const virtual_env = '{venv}'",
            "const virtual_env = (path self | path dirname | path dirname)",
        ),
    ),
    "activate.bat": (('@for %%i in ("{venv}") do', '@for %%i in ("%~dp0..") do'),),
}


# `python -m venv` names the venv in a double-quoted string (in a few forms across 3.9-3.13);
# the shell finds the sourced file instead: bash and zsh as uv's activate does, fish by
# `status -f`. csh cannot tell which file it is sourcing: activate.csh is not relocatable.
_SELF_SH = """\
# Added by uv-portable: the environment is the folder above this file, wherever it is.
if [ -n "${BASH_VERSION:+x}" ] ; then
    _uv_portable_venv="${BASH_SOURCE[0]}"
elif [ -n "${ZSH_VERSION:+x}" ] ; then
    _uv_portable_venv="${(%):-%x}"
else
    _uv_portable_venv="$0"
fi
_uv_portable_venv="$(dirname -- "$(dirname -- "$(realpath -- "$_uv_portable_venv")")")"
"""
_VENV_MODULE_RULES: dict[str, tuple[str, str, str]] = {
    # name: (text put first, what the quoted venv path becomes, text put last)
    "activate": (_SELF_SH, '"$_uv_portable_venv"', "\nunset _uv_portable_venv\n"),
    "activate.fish": ("", "(dirname -- (dirname -- (realpath -- (status -f))))", ""),
}


def relocate_activate(name: str, text: str, venv: str) -> str | None:
    """Rewrite an activate script so it computes its own location; None if unchanged.
    The result may still name ``venv`` (activate.csh cannot find itself): then it is not
    relocatable."""
    if venv not in text:
        return None
    for old, new in _ACTIVATE_RULES.get(name, ()):
        text = text.replace(old.format(venv=venv), new)
    quoted = f'"{venv}"'
    if name in _VENV_MODULE_RULES and quoted in text:
        first, path, last = _VENV_MODULE_RULES[name]
        text = first + text.replace(quoted, path) + last
    return text if name in _ACTIVATE_RULES else None


def portable_pyvenv_cfg(cfg: tuple[tuple[str, str], ...], tool_version: str) -> str:
    """The pyvenv.cfg of an export: no ``home`` (CPython would fall back to its build prefix
    with a relative one), but ``include-system-site-packages = false`` so that ``site``
    keeps the user site-packages of the target host out, as in a venv.
    """
    keep = {"implementation", "version_info", "version", "uv", "prompt"}
    lines = [f"{key} = {value}" for key, value in cfg if key in keep]
    lines += [
        "include-system-site-packages = false",
        "relocatable = true",
        f"uv-portable = {tool_version}",
    ]
    return "\n".join(lines) + "\n"


def parse_pyvenv_cfg(text: str) -> tuple[tuple[str, str], ...]:
    """Parse pyvenv.cfg the way ``site`` does: ``key = value`` lines, keys lowercased."""
    pairs: list[tuple[str, str]] = []
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            pairs.append((key.strip().lower(), value.strip()))
    return tuple(pairs)


def pth_path_lines(text: str) -> list[str]:
    """The lines of a .pth file that ``site`` treats as paths (not comments or imports);
    a UTF-8 BOM is not part of the first line (3.15's ``site`` drops it, PEP 829)."""
    out = []
    for line in text.removeprefix("\ufeff").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or re.match(r"import[ \t]", line):
            continue
        out.append(stripped)
    return out


def relocate_pth(
    text: str, is_absolute: Callable[[str], bool], relative: Callable[[str], str | None]
) -> tuple[str | None, list[str]]:
    """A .pth file with its absolute path lines made relative (None when nothing changed),
    and the absolute entries that ``relative`` could not map (outside the environment)."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text[len(bom) :].splitlines(keepends=True)
    paths = set(pth_path_lines(text))
    outside: list[str] = []
    changed = False
    for i, line in enumerate(lines):
        entry = line.strip()
        if entry not in paths or not is_absolute(entry):
            continue
        rel = relative(entry)
        if rel is None:
            outside.append(entry)
            continue
        lines[i] = line.replace(entry, rel)
        changed = True
    return (bom + "".join(lines) if changed else None), outside


_SYSCONFIG_FIXUP = r"""

# Added by uv-portable: the values above name the prefix this interpreter was built for.
# Point them at the folder the environment is unpacked in, whatever that is; only where the
# prefix starts a path (after a space, '=', ':', ',', a quote, -L, -I or -R), so that a short
# prefix such as /install leaves INSTALL = '/usr/bin/install -c' alone.
def _uv_portable_relocate():
    import re
    import sys
    start = r"(?:^|(?<=[\s=:,'\x22])|(?<=-L)|(?<=-I)|(?<=-R))"
    pattern = re.compile(start + re.escape(BUILD_PREFIX) + r"(?=/|$|\s|:)")
    for key, value in build_time_vars.items():
        if isinstance(value, str):
            build_time_vars[key] = pattern.sub(lambda m: sys.base_prefix, value)


_uv_portable_relocate()
del _uv_portable_relocate
"""


_SYSCONFIG_PREFIX = re.compile(r"""['"]prefix['"]\s*:\s*['"]([^'"]+)['"]""")


def sysconfig_prefix(text: str) -> str | None:
    """The build prefix a ``_sysconfigdata`` module names (its 'prefix' value), or None."""
    match = _SYSCONFIG_PREFIX.search(text)
    return match[1] if match else None


def relocate_sysconfigdata(text: str, build_prefix: str) -> str | None:
    """Append code that maps the build prefix in ``build_time_vars`` to the run-time prefix."""
    if build_prefix not in text or "_uv_portable_relocate" in text:
        return None
    return text + _SYSCONFIG_FIXUP.replace("BUILD_PREFIX", repr(build_prefix))
