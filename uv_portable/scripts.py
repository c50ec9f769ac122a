"""Pure text transforms: shebangs, activate scripts, pyvenv.cfg, .pth lines, _sysconfigdata."""

from __future__ import annotations

import re
from collections.abc import Callable

# The same trampoline uv writes for relocatable venvs: /bin/sh finds the script's real folder
# and re-executes it with the `python` next to it, so scripts work from any location.
_TRAMPOLINE = (
    "#!/bin/sh\n"
    '\'\'\'exec\' "$(dirname -- "$(realpath -- "$0")")"/\'{python}\'{args} "$0" "$@"\n'
    "' '''\n"
)
_LONG_SHEBANG = re.compile(rb"^'''exec' '?(?P<path>/[^' ]+)'?(?P<args>[^\"]*?) \"\$0\" \"\$@\"$")


def trampoline(python: str = "python", args: str = "") -> bytes:
    """The relocatable header that replaces an absolute shebang."""
    extra = f" {args}" if args else ""
    return _TRAMPOLINE.format(python=python, args=extra).encode()


def rewrite_shebang(data: bytes, is_build_python: Callable[[str], bool]) -> bytes | None:
    """Return the script with a relocatable header, or None when nothing needs to change.

    Handles ``#!/abs/python [args]`` and the ``#!/bin/sh`` + ``'''exec' '/abs/python'`` form
    that installers use for shebangs longer than the kernel allows.
    """
    if not data.startswith(b"#!"):
        return None
    first, _, rest = data.partition(b"\n")
    command = first[2:].strip()
    if command in (b"/bin/sh", b"/usr/bin/sh"):
        second, _, tail = rest.partition(b"\n")
        match = _LONG_SHEBANG.match(second.rstrip(b"\r"))
        third, _, body = tail.partition(b"\n")
        if match and third.strip() == b"' '''" and is_build_python(match["path"].decode()):
            return trampoline(args=match["args"].decode().strip()) + body
        return None
    parts = command.split(None, 1)
    if not parts:
        return None
    interpreter = parts[0].decode(errors="surrogateescape")
    if not interpreter.startswith("/") or not is_build_python(interpreter):
        return None
    args = parts[1].decode(errors="surrogateescape").strip() if len(parts) > 1 else ""
    return trampoline(args=args) + rest


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


def relocate_activate(name: str, text: str, venv: str) -> str | None:
    """Rewrite an activate script so it computes its own location; None if unchanged."""
    rules = _ACTIVATE_RULES.get(name)
    if rules is None or venv not in text:
        return None
    for old, new in rules:
        text = text.replace(old.format(venv=venv), new)
    return text


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
