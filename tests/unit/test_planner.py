"""The planner and materialize on small synthetic trees: no pyenv, no compiler, no network.

The "interpreter" is a copy of a system ELF binary; the standard library is a few files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from uv_portable.errors import OutputError
from uv_portable.model import CopyFile, MakeSymlink, Plan, WriteFile
from uv_portable.plan import PlanOptions, make_plan
from uv_portable.source.venv import load_source
from uv_portable.write.materialize import materialize, safe_dest

ELF = Path("/bin/true").resolve()


def _write(path: Path, text: str = "", mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def make_base(root: Path, *, distro_site: bool = False) -> Path:
    """A fake CPython 3.12.1 prefix: an ELF bin/python3.12, a tiny stdlib, headers."""
    prefix = root / "base"
    (prefix / "bin").mkdir(parents=True)
    shutil.copy2(ELF, prefix / "bin" / "python3.12")
    lib = prefix / "lib" / "python3.12"
    _write(lib / "os.py", "# landmark\n")
    _write(lib / "site.py", "# dist-packages\n" if distro_site else "# site\n")
    _write(lib / "json" / "__init__.py")
    _write(lib / "test" / "test_os.py")
    _write(lib / "idlelib" / "idle_test" / "test_x.py")
    _write(lib / "idlelib" / "__init__.py")
    _write(lib / "config-3.12-x86_64-linux-gnu" / "Makefile", "prefix=/x\n")
    _write(lib / "config-3.12-x86_64-linux-gnu" / "libpython3.12.a", "!<arch>\n")
    _write(lib / "site-packages" / "base_only.pth", "/somewhere\n")
    _write(prefix / "include" / "python3.12" / "patchlevel.h", '#define PY_VERSION "3.12.1"\n')
    return prefix


def make_venv(root: Path, base: Path) -> Path:
    venv = root / "venv"
    site = venv / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    os.symlink(base / "bin" / "python3.12", venv / "bin" / "python")
    os.symlink("python", venv / "bin" / "python3")
    _write(
        venv / "pyvenv.cfg",
        f"home = {base}/bin\nimplementation = CPython\nversion_info = 3.12.1\n"
        "include-system-site-packages = false\n",
    )
    _write(venv / "bin" / "tool", f"#!{venv}/bin/python\nimport tool\n", 0o755)
    _write(site / "pkg" / "__init__.py", "x = 1\n")
    _write(site / "pkg" / "data" / "notes.txt", "hi\n")
    info = site / "pkg-1.0.dist-info"
    _write(info / "METADATA", "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
    _write(info / "RECORD", "pkg/__init__.py,,\npkg/data/notes.txt,,\n")
    _write(site / "local.pth", f"{site}/pkg/data\n")
    return venv


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    return make_venv(tmp_path, make_base(tmp_path))


def by_dest(plan: Plan) -> dict[str, object]:
    return {a.dest: a for a in plan.actions}


def test_plan_maps_base_and_venv_into_one_prefix(venv: Path) -> None:
    plan = make_plan(load_source(venv))
    actions = by_dest(plan)
    exe = actions["bin/python3.12"]
    assert isinstance(exe, CopyFile) and exe.src.name == "python3.12"
    assert actions["bin/python"] == MakeSymlink("bin/python", "python3.12")
    assert "lib/python3.12/os.py" in actions
    assert "lib/python3.12/site-packages/pkg/__init__.py" in actions
    assert "lib/python3.12/site-packages/base_only.pth" not in actions, "base site-packages"
    assert not any("/test/" in d or "idle_test" in d for d in actions), "stdlib tests"
    assert "lib/python3.12/idlelib/__init__.py" in actions
    assert "lib/python3.12/config-3.12-x86_64-linux-gnu/Makefile" in actions
    assert not any(d.endswith(".a") for d in actions), "static libpython"
    assert "include/python3.12/patchlevel.h" in actions
    cfg = actions["pyvenv.cfg"]
    assert isinstance(cfg, WriteFile) and b"home" not in cfg.data
    assert [d.name for d in plan.distributions] == ["pkg"]
    assert plan.errors == ()


def test_scripts_and_pth_become_relative(venv: Path) -> None:
    actions = by_dest(make_plan(load_source(venv)))
    tool = actions["bin/tool"]
    assert isinstance(tool, WriteFile) and str(venv).encode() not in tool.data
    assert tool.data.startswith(b"#!/bin/sh\n") and tool.mode == 0o755
    pth = actions["lib/python3.12/site-packages/local.pth"]
    assert isinstance(pth, WriteFile) and pth.data == b"pkg/data\n"


def test_keep_options_and_exclude(venv: Path) -> None:
    options = PlanOptions(keep_tests=True, keep_config=True, exclude=("*/pkg/data/*",))
    actions = by_dest(make_plan(load_source(venv), options))
    assert "lib/python3.12/test/test_os.py" in actions
    assert "lib/python3.12/idlelib/idle_test/test_x.py" in actions
    assert any(d.endswith("libpython3.12.a") for d in actions)
    assert "lib/python3.12/site-packages/pkg/data/notes.txt" not in actions


def test_editable_install_and_outside_pth_are_refused(venv: Path, tmp_path: Path) -> None:
    site = venv / "lib" / "python3.12" / "site-packages"
    _write(
        site / "pkg-1.0.dist-info" / "direct_url.json",
        json.dumps({"url": f"file://{tmp_path}/src", "dir_info": {"editable": True}}),
    )
    errors = make_plan(load_source(venv)).errors
    assert [(f.code, f.subject) for f in errors] == [("editable", "pkg")]
    (site / "pkg-1.0.dist-info" / "direct_url.json").unlink()
    _write(site / "outside.pth", "/opt/elsewhere/code\n")
    errors = make_plan(load_source(venv)).errors
    assert [(f.code, f.path) for f in errors] == [
        ("absolute-pth", "lib/python3.12/site-packages/outside.pth")
    ]


def test_distribution_site_gets_the_dist_packages_hook(tmp_path: Path) -> None:
    venv = make_venv(tmp_path, make_base(tmp_path, distro_site=True))
    hook = by_dest(make_plan(load_source(venv)))[
        "lib/python3.12/dist-packages/_uv_portable_site.pth"
    ]
    assert isinstance(hook, WriteFile)
    assert b"site.addsitedir" in hook.data and b"'python3.12', 'site-packages'" in hook.data


def test_plan_to_json_names_every_action(venv: Path) -> None:
    data = make_plan(load_source(venv)).to_json()
    kinds = {a["action"] for a in data["actions"]}
    assert {"copy", "write", "symlink", "mkdir"} <= kinds
    assert data["base"]["version"] == "3.12.1"


def test_materialize_writes_the_plan_and_keeps_the_source(venv: Path, tmp_path: Path) -> None:
    plan = make_plan(load_source(venv))
    root = tmp_path / "out"
    root.mkdir()
    done: list[int] = []
    materialize(plan, root, done.append)
    assert (root / "bin" / "python").resolve() == (root / "bin" / "python3.12").resolve()
    assert os.access(root / "bin" / "python3.12", os.X_OK)
    assert (root / "lib/python3.12/site-packages/pkg/__init__.py").read_text() == "x = 1\n"
    assert b"home" not in (root / "pyvenv.cfg").read_bytes()
    assert sum(done) == sum(a.src.stat().st_size for a in plan.actions if isinstance(a, CopyFile))
    copied = root / "lib/python3.12/os.py"
    assert copied.stat().st_ino != (venv.parent / "base/lib/python3.12/os.py").stat().st_ino


def test_materialize_links_only_when_asked(venv: Path, tmp_path: Path) -> None:
    plan = make_plan(load_source(venv))
    root = tmp_path / "staged"
    root.mkdir()
    materialize(plan, root, link=True)
    copied = root / "lib/python3.12/os.py"
    assert copied.stat().st_ino == (venv.parent / "base/lib/python3.12/os.py").stat().st_ino


@pytest.mark.parametrize("rel", ["../escape", "/etc/passwd", "a/../../b"])
def test_safe_dest_refuses_to_leave_the_root(tmp_path: Path, rel: str) -> None:
    with pytest.raises(OutputError, match="outside the output"):
        safe_dest(tmp_path, rel)


def _scripts_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A venv whose base's bin/ also holds env, bash and perl (as /usr/bin does), with a
    script for each beside a Python script."""
    base = make_base(tmp_path)
    venv = make_venv(tmp_path, base)
    bin_dir = venv / "bin"
    _write(bin_dir / "env-bash", f"#!{base}/bin/env bash\necho hi\n", 0o755)
    _write(bin_dir / "env-s-perl", f"#!{base}/bin/env -S perl -w\nprint 1;\n", 0o755)
    _write(bin_dir / "perl-tool", f"#!{base}/bin/perl\nprint 1;\n", 0o755)
    _write(bin_dir / "base-python", f"#!{base}/bin/python3.12 -E\nimport sys\n", 0o755)
    _write(bin_dir / "env-python", f"#!{base}/bin/env {venv}/bin/python\nimport sys\n", 0o755)
    return base, venv


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("base/bin/python3.12", True),
        ("base/bin/python3", True),  # a name the base's bin/ may also hold
        ("venv/bin/python", True),
        ("venv/bin/python3", True),
        ("base/bin/env", False),
        ("base/bin/perl", False),
        ("base/bin/bash", False),
        ("venv/bin/activate", False),
        ("elsewhere/bin/python3", False),
    ],
)
def test_is_build_python_names_only_the_venvs_or_bases_python(
    tmp_path: Path, relative: str, expected: bool
) -> None:
    from uv_portable.plan.venv import is_build_python

    _, venv = _scripts_venv(tmp_path)
    assert is_build_python(load_source(venv), str(tmp_path / relative)) is expected


def test_only_python_scripts_get_the_relocatable_header(tmp_path: Path) -> None:
    _, venv = _scripts_venv(tmp_path)
    actions = by_dest(make_plan(load_source(venv)))
    for name in ("env-bash", "env-s-perl", "perl-tool"):
        assert isinstance(actions[f"bin/{name}"], CopyFile), name  # the shebang kept
    for name, args in (("tool", b""), ("base-python", b" -E"), ("env-python", b"")):
        action = actions[f"bin/{name}"]
        assert isinstance(action, WriteFile), name
        assert action.data.startswith(b"#!/bin/sh\n'''exec' "), name
        assert b"/'python'" + args + b' "$0"' in action.data, name


def test_script_verification_compares_with_the_source(tmp_path: Path) -> None:
    from uv_portable.plan.scripts import trampoline
    from uv_portable.prove.verification import script_findings

    _, venv = _scripts_venv(tmp_path)
    plan = make_plan(load_source(venv))
    out = tmp_path / "out"
    out.mkdir()
    materialize(plan, out)
    assert script_findings(out, plan) == []
    # What the export did before issue 19: bash given Python's header, and a Python script
    # left naming the build's interpreter.
    (out / "bin" / "env-bash").write_bytes(trampoline(args="bash") + b"echo hi\n")
    (out / "bin" / "tool").write_text(f"#!{venv}/bin/python\nimport tool\n")
    found = {f.path: (f.code, f.message) for f in script_findings(out, plan)}
    assert set(found) == {"bin/env-bash", "bin/tool"}
    assert found["bin/env-bash"][0] == "script-interpreter-changed"
    assert "ran bash in the source" in found["bin/env-bash"][1]
    assert found["bin/tool"][0] == "script-outside"
    assert f"runs {venv}/bin/python," in found["bin/tool"][1]


def test_activate_scripts_are_relocated_or_left_out(tmp_path: Path) -> None:
    """Issue 19: activate.csh (and python -m venv's activate, activate.fish) shipped naming
    the build path. Those that can find their own folder are relocated, the rest left out."""
    base = make_base(tmp_path)
    venv = make_venv(tmp_path, base)
    _write(venv / "bin" / "activate", f'VIRTUAL_ENV="{venv}"\nexport VIRTUAL_ENV\n')
    _write(venv / "bin" / "activate.fish", f'set -gx VIRTUAL_ENV "{venv}"\n')
    _write(venv / "bin" / "activate.csh", f'setenv VIRTUAL_ENV "{venv}"\n')
    plan = make_plan(load_source(venv))
    actions = by_dest(plan)
    assert "bin/activate.csh" not in actions
    for name in ("activate", "activate.fish"):
        action = actions[f"bin/{name}"]
        assert isinstance(action, WriteFile) and str(venv).encode() not in action.data, name
    assert any("left out bin/activate.csh" in note for note in plan.notes), plan.notes
    assert not [f for f in plan.findings if f.code == "build-path-in-script"]
