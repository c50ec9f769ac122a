"""PEP 829 startup files: .start entry points, UTF-8 .pth and .start files."""

from __future__ import annotations

import pytest

from uv_portable.source.startup import decode, entry_points, is_entry_point, startup_findings


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"/abs\n", "/abs\n"),
        (b"\xef\xbb\xbfimport x\n", "import x\n"),  # a BOM is dropped, as site does
        ("caf\u00e9\n".encode(), "caf\u00e9\n"),
        ("caf\u00e9\n".encode("latin-1"), None),  # not UTF-8
    ],
)
def test_decode(data: bytes, text: str | None) -> None:
    assert decode(data) == text


@pytest.mark.parametrize(
    ("text", "points"),
    [
        ("pkg.mod:start\n", ["pkg.mod:start"]),
        ("# comment\n\n  a:b  \r\nc.d:e.f\n", ["a:b", "c.d:e.f"]),
        ("\ufeffa:b\n", ["a:b"]),
        ("", []),
    ],
)
def test_entry_points(text: str, points: list[str]) -> None:
    assert entry_points(text) == points


@pytest.mark.parametrize(
    ("line", "valid"),
    [
        ("pkg:func", True),
        ("pkg.mod:Class.method", True),
        ("_private._m:_f", True),
        ("pkg.mod", False),  # strict: the callable is required
        ("pkg:", False),
        ("1pkg:f", False),
        ("pkg.mod:f()", False),
        ("import pkg", False),
        ("/abs/path", False),
    ],
)
def test_is_entry_point(line: str, valid: bool) -> None:
    assert is_entry_point(line) is valid


@pytest.mark.parametrize(
    ("rel", "data", "codes"),
    [
        ("sp/a.pth", b"/x\nimport y\n", []),
        ("sp/a.pth", b"\xef\xbb\xbf/x\n", []),
        ("sp/a.pth", "/caf\u00e9\n".encode("latin-1"), ["pth-not-utf8"]),
        ("sp/a.start", b"# c\npkg.mod:run\n", []),
        ("sp/a.start", "pkg:run\n".encode("utf-16"), ["start-not-utf8"]),
        ("sp/a.start", b"pkg.mod:run\nimport pkg\npkg.mod\n", ["start-entry-point"] * 2),
    ],
)
def test_startup_findings(rel: str, data: bytes, codes: list[str]) -> None:
    found = startup_findings(rel, data)
    assert [f.code for f in found] == codes
    assert all(f.severity == "warning" and f.path == rel for f in found)
