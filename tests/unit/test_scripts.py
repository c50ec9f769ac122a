"""Table-driven tests of the pure text transforms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import _pyenv_version, run
from uv_portable.plan.scripts import (
    _SELF_SH,
    Shebang,
    parse_pyvenv_cfg,
    parse_shebang,
    portable_pyvenv_cfg,
    pth_path_lines,
    relocate_activate,
    relocate_pth,
    relocate_sysconfigdata,
    rewrite_shebang,
    trampoline,
)

VENV = "/build/venv"


def is_build(path: str) -> bool:
    return path.startswith(VENV + "/bin/") or path == "/base/bin/python3.12"


BODY = b"import sys\nsys.exit(0)\n"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (b"#!/build/venv/bin/python\n" + BODY, trampoline() + BODY),
        (b"#!/build/venv/bin/python3 -E\n" + BODY, trampoline(args="-E") + BODY),
        (b"#!/base/bin/python3.12\n" + BODY, trampoline() + BODY),
        (
            b"#!/bin/sh\n'''exec' '/build/venv/bin/python' \"$0\" \"$@\"\n' '''\n" + BODY,
            trampoline() + BODY,
        ),
        (b"#!/usr/bin/env python3\n" + BODY, None),  # not ours: left alone
        (b"#!/usr/bin/python3\n" + BODY, None),  # the host's python, not the build's
        (trampoline() + BODY, None),  # already relocatable (uv --relocatable)
        (b"#!/bin/sh\necho hello\n", None),
        (BODY, None),  # no shebang
        (b"#!\n", None),
        # Issue 19: with a base in /usr, env, bash and perl sit beside the build's Python.
        (b"#!/usr/bin/env bash\necho hi\n", None),
        (b"#!/usr/bin/env -S perl -w\nprint 1;\n", None),
        (b"#!/usr/bin/perl\nprint 1;\n", None),
        (b"#!/bin/bash -e\necho hi\n", None),
        (b"#!/usr/bin/env /build/venv/bin/python\n" + BODY, trampoline() + BODY),
        (b"#!/usr/bin/env -S /base/bin/python3.12 -E\n" + BODY, trampoline(args="-E") + BODY),
        (b"#!/build/venv/bin/python", trampoline()),  # no newline
    ],
)
def test_rewrite_shebang(script: bytes, expected: bytes | None) -> None:
    assert rewrite_shebang(script, is_build) == expected


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (b"#!/usr/bin/env bash\n", Shebang("bash", "")),
        (b"#!/usr/bin/env  python3 -E \r\n", Shebang("python3", "-E")),
        (b"#!/usr/bin/env -S perl -w\n", Shebang("perl", "-w")),
        (b"#!/usr/bin/env -Sperl -w\n", Shebang("perl", "-w")),
        (b"#!/usr/bin/env -i PATH=/x -u HOME sh\n", Shebang("sh", "")),
        (b"#!/usr/bin/env --split-string=x\n", Shebang("/usr/bin/env", "")),
        (b"#!/bin/env ruby\n", Shebang("ruby", "")),
        (b"#!/usr/bin/env\n", Shebang("/usr/bin/env", "")),
        (b"#!/usr/bin/perl -w\n", Shebang("/usr/bin/perl", "-w")),
        (b"#!/bin/sh\necho hi\n", Shebang("/bin/sh", "")),
        (
            b"#!/bin/sh\n'''exec' '/v/bin/python' -E \"$0\" \"$@\"\n' '''\n",
            Shebang("/v/bin/python", "-E", lines=3),
        ),
        (trampoline() + BODY, Shebang("python", "", lines=3, relocatable=True)),
        (trampoline(args="-E") + BODY, Shebang("python", "-E", lines=3, relocatable=True)),
        (b"#!\n", None),
        (BODY, None),
        (b"\x7fELF\x02", None),
    ],
)
def test_parse_shebang(script: bytes, expected: Shebang | None) -> None:
    assert parse_shebang(script) == expected


def test_trampoline_is_uvs_relocatable_header() -> None:
    assert trampoline() == (
        b'#!/bin/sh\n\'\'\'exec\' "$(dirname -- "$(realpath -- "$0")")"/\'python\' "$0" "$@"\n'
        b"' '''\n"
    )


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "activate",
            'VIRTUAL_ENV=\'/build/venv\'\nif [ "false" = "true" ]; then\n',
            'VIRTUAL_ENV=\'\'"$(dirname -- "$(dirname -- "$(realpath -- "$SCRIPT_PATH")")")"\'\'\n'
            'if [ "true" = "true" ]; then\n',
        ),
        (
            "activate.fish",
            "set -gx VIRTUAL_ENV '/build/venv'\n",
            "set -gx VIRTUAL_ENV ''(dirname -- (dirname -- (realpath -- (status -f))))''\n",
        ),
        (
            "activate.nu",
            "    const virtual_env = '/build/venv'\n",
            "    const virtual_env = (path self | path dirname | path dirname)\n",
        ),
        (
            "activate.bat",
            '@for %%i in ("/build/venv") do @set "VIRTUAL_ENV=%%~fi"\n',
            '@for %%i in ("%~dp0..") do @set "VIRTUAL_ENV=%%~fi"\n',
        ),
        ("activate", "nothing to do\n", None),
        ("other-script", "VIRTUAL_ENV='/build/venv'\n", None),
        # python -m venv (3.9-3.11, then 3.12+): the shell finds the sourced file.
        (
            "activate",
            'VIRTUAL_ENV="/build/venv"\nexport VIRTUAL_ENV\n',
            _SELF_SH + 'VIRTUAL_ENV="$_uv_portable_venv"\nexport VIRTUAL_ENV\n'
            "\nunset _uv_portable_venv\n",
        ),
        (
            "activate",
            '    export VIRTUAL_ENV=$(cygpath "/build/venv")\nelse\n'
            '    export VIRTUAL_ENV="/build/venv"\n',
            _SELF_SH + '    export VIRTUAL_ENV=$(cygpath "$_uv_portable_venv")\nelse\n'
            '    export VIRTUAL_ENV="$_uv_portable_venv"\n\nunset _uv_portable_venv\n',
        ),
        (
            "activate.fish",
            'set -gx VIRTUAL_ENV "/build/venv"\n',
            "set -gx VIRTUAL_ENV (dirname -- (dirname -- (realpath -- (status -f))))\n",
        ),
        # csh cannot find the file it sources: left naming the venv (the planner drops it).
        ("activate.csh", 'setenv VIRTUAL_ENV "/build/venv"\n', None),
    ],
)
def test_relocate_activate(name: str, text: str, expected: str | None) -> None:
    assert relocate_activate(name, text, VENV) == expected


@pytest.mark.parametrize("minor", ["3.9", "3.12", "3.13"])
def test_venv_modules_activate_finds_itself_in_bash(minor: str, tmp_path: Path) -> None:
    """`python -m venv`'s activate, relocated and moved, activates where it now is."""
    base = _pyenv_version(minor)
    if base is None:
        pytest.fail(f"no CPython {minor} under pyenv; the tests need it")
    built = tmp_path / "build" / "venv"
    run([str(base / "bin" / "python3"), "-m", "venv", "--without-pip", str(built)])
    text = (built / "bin" / "activate").read_text()
    moved = tmp_path / "elsewhere" / "env"
    (moved / "bin").mkdir(parents=True)
    new = relocate_activate("activate", text, str(built))
    assert new is not None and str(built) not in new
    (moved / "bin" / "activate").write_text(new)
    shutil.rmtree(built)
    script = 'source "$1/bin/activate" && echo "$VIRTUAL_ENV|$PATH|${_uv_portable_venv-unset}"'
    out = run(["bash", "-c", script, "bash", str(moved)]).stdout.strip()
    venv_path, path, leftover = out.split("|")
    assert venv_path == str(moved)
    assert path.startswith(f"{moved}/bin:")
    assert leftover == "unset"


def test_pyvenv_cfg_round_trip_drops_home() -> None:
    cfg = parse_pyvenv_cfg(
        "home = /base/bin\nimplementation = CPython\nuv = 0.13.9\nversion_info = 3.12.1\n"
        "include-system-site-packages = true\nrelocatable = true\nprompt = demo\n"
    )
    assert dict(cfg)["home"] == "/base/bin"
    out = dict(parse_pyvenv_cfg(portable_pyvenv_cfg(cfg, "9.9")))
    assert "home" not in out
    assert out["include-system-site-packages"] == "false"
    assert out["version_info"] == "3.12.1"
    assert out["prompt"] == "demo"
    assert out["uv-portable"] == "9.9"


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("/abs/src\n", ["/abs/src"]),
        ("# comment\n\nrel/dir\nimport foo; foo.install()\n", ["rel/dir"]),
        ("import\tbar\n/x\n", ["/x"]),
        ("importlib_thing\n", ["importlib_thing"]),  # not an import statement: a path
        ("\ufeff/abs/src\n", ["/abs/src"]),  # PEP 829: a UTF-8 BOM is not part of the path
        ("\ufeffimport foo\nrel\n", ["rel"]),
    ],
)
def test_pth_path_lines(text: str, paths: list[str]) -> None:
    assert pth_path_lines(text) == paths


def test_sysconfigdata_is_relocated_at_run_time() -> None:
    text = "build_time_vars = {'prefix': '/build/base', 'LIBDIR': '/build/base/lib', 'CC': 'gcc'}\n"
    new = relocate_sysconfigdata(text, "/build/base")
    assert new is not None
    namespace: dict[str, object] = {}
    exec(compile(new, "sysconfigdata", "exec"), namespace)
    import sys

    values = namespace["build_time_vars"]
    assert values == {"prefix": sys.base_prefix, "LIBDIR": sys.base_prefix + "/lib", "CC": "gcc"}
    assert relocate_sysconfigdata(new, "/build/base") is None  # idempotent
    assert relocate_sysconfigdata(text, "/elsewhere") is None


def test_sysconfigdata_short_prefix_only_where_a_path_starts() -> None:
    text = (
        "build_time_vars = {'prefix': '/install', 'INSTALL': '/usr/bin/install -c',"
        " 'LDFLAGS': '-L/install/lib -Wl,-rpath,/install/lib', 'X': '/installer/y'}\n"
    )
    new = relocate_sysconfigdata(text, "/install")
    assert new is not None
    namespace: dict[str, object] = {}
    exec(compile(new, "sysconfigdata", "exec"), namespace)
    import sys

    values = namespace["build_time_vars"]
    assert values == {
        "prefix": sys.base_prefix,
        "INSTALL": "/usr/bin/install -c",
        "LDFLAGS": f"-L{sys.base_prefix}/lib -Wl,-rpath,{sys.base_prefix}/lib",
        "X": "/installer/y",
    }
    assert relocate_sysconfigdata(text, "/elsewhere") is None


@pytest.mark.parametrize(
    ("text", "new", "outside"),
    [
        ("/venv/lib/pkg\n", "lib/pkg\n", []),
        ("import sys; x = 1\n# /venv/x\n", None, []),
        ("relative/path\n", None, []),
        ("/elsewhere/code\n/venv/a\n", "/elsewhere/code\na\n", ["/elsewhere/code"]),
        ("\ufeff/venv/lib/pkg\n", "\ufefflib/pkg\n", []),  # the BOM stays, the path moves
        ("\ufeff/elsewhere\n", None, ["/elsewhere"]),
        ("/venv/caf\u00e9\r\n", "caf\u00e9\r\n", []),
    ],
)
def test_relocate_pth(text: str, new: str | None, outside: list[str]) -> None:
    def relative(entry: str) -> str | None:
        return entry[len("/venv/") :] if entry.startswith("/venv/") else None

    assert relocate_pth(text, lambda e: e.startswith("/"), relative) == (new, outside)


@pytest.mark.parametrize(
    ("hint", "reworded"),
    [
        ("export with uv-portable, which rewrites it to $ORIGIN", True),
        ("export the venv with uv-portable, which copies the interpreter in", True),
        ("re-export with uv-portable, which bundles it into lib/", True),
        ("rebuild the archive with uv-portable", True),
        ("export it with `uv-portable export`, which drops home", True),
        ("reinstall it non-editable: `uv sync --no-editable`", False),
        ("report this to uv-portable with the venv's details", False),
        ("", False),
    ],
)
def test_check_rewords_export_advice_for_its_own_trees(hint: str, reworded: bool) -> None:
    """Issue 19: `check` told users to "export with uv-portable" about its own archives."""
    from uv_portable.model import Finding
    from uv_portable.prove.check import reword_for_export

    [found] = reword_for_export([Finding("error", "x", "bin/x", "msg", hint)], "0.1.0")
    assert (found.hint != hint) is reworded
    if reworded:
        assert found.hint.startswith("the tree was exported by uv-portable 0.1.0")
