"""Table-driven tests of RUNPATH relocation decisions."""

from __future__ import annotations

import pytest

from uv_portable.runpath import expand_origin, map_into, origin_relative, relocate

OUT = "/out"
ROOTS = [("/venv", OUT), ("/base", OUT), ("/venv-real", OUT)]


@pytest.mark.parametrize(
    ("entry", "origin", "expected"),
    [
        ("$ORIGIN", "/a/b", "/a/b"),
        ("$ORIGIN/../lib", "/a/b", "/a/lib"),
        ("${ORIGIN}/x", "/a", "/a/x"),
        ("/abs/lib", "/a", "/abs/lib"),
        ("$LIB/x", "/a", None),
        ("relative/dir", "/a", None),
    ],
)
def test_expand_origin(entry: str, origin: str, expected: str | None) -> None:
    assert expand_origin(entry, origin) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/venv", OUT),
        ("/venv/lib/x", "/out/lib/x"),
        ("/venv-real/lib", "/out/lib"),  # longest prefix wins, and /venv is not a prefix of it
        ("/base/lib", "/out/lib"),
        ("/elsewhere/lib", None),
        ("/venvx/lib", None),
    ],
)
def test_map_into(path: str, expected: str | None) -> None:
    assert map_into(path, ROOTS) == expected


@pytest.mark.parametrize(
    ("entries", "src_dir", "dest_dir", "expected", "dropped"),
    [
        # pyenv --enable-shared: absolute prefix/lib on the interpreter and lib-dynload
        (["/base/lib"], "/base/bin", "/out/bin", ("$ORIGIN/../lib",), ()),
        (
            ["/base/lib"],
            "/base/lib/python3.12/lib-dynload",
            "/out/lib/python3.12/lib-dynload",
            ("$ORIGIN/../..",),
            (),
        ),
        (["/base/lib"], "/base/lib", "/out/lib", ("$ORIGIN",), ()),
        # python-build-standalone and wheels: already relative and unchanged
        (["$ORIGIN/../lib"], "/base/bin", "/out/bin", ("$ORIGIN/../lib",), ()),
        (
            ["$ORIGIN/../numpy.libs"],
            "/venv/lib/python3.12/site-packages/numpy/core",
            "/out/lib/python3.12/site-packages/numpy/core",
            ("$ORIGIN/../numpy.libs",),
            (),
        ),
        # absolute paths into the venv become relative
        (
            ["/venv/lib/python3.12/site-packages/torch/lib"],
            "/venv/lib/python3.12/site-packages/torchaudio",
            "/out/lib/python3.12/site-packages/torchaudio",
            ("$ORIGIN/../torch/lib",),
            (),
        ),
        # outside both: dropped and reported
        (
            ["/usr/lib", "/opt/x/lib", "$ORIGIN"],
            "/venv/lib",
            "/out/lib",
            ("$ORIGIN",),
            ("/usr/lib", "/opt/x/lib"),
        ),
        # an $ORIGIN path that climbs out of the environment is dropped too
        (["$ORIGIN/../../../opt"], "/venv/lib", "/out/lib", (), ("$ORIGIN/../../../opt",)),
        # duplicates collapse, other tokens stay
        (
            ["/base/lib", "$ORIGIN/../lib", "$LIB"],
            "/base/bin",
            "/out/bin",
            ("$ORIGIN/../lib", "$LIB"),
            (),
        ),
    ],
)
def test_relocate(
    entries: list[str],
    src_dir: str,
    dest_dir: str,
    expected: tuple[str, ...],
    dropped: tuple[str, ...],
) -> None:
    result = relocate(entries, src_dir=src_dir, dest_dir=dest_dir, roots=ROOTS)
    assert result.entries == expected
    assert result.dropped == dropped


def test_origin_relative() -> None:
    assert origin_relative("/out/lib", "/out/lib") == "$ORIGIN"
    assert origin_relative("/out/lib", "/out/bin") == "$ORIGIN/../lib"
