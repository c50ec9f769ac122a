"""PEP 829 startup files in a venv: .start files kept and checked, .pth files read as UTF-8
(a BOM allowed), non-UTF-8 ones reported, by export and by check."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import cli

SITE = "lib/python3.12/site-packages"


def test_start_and_pth_files_by_export_and_check(small_venv_copy: Path, tmp_path: Path) -> None:
    site = small_venv_copy / SITE
    (site / "extra").mkdir()
    (site / "demo.start").write_text("# PEP 829\ncowsay:main\nnot an entry point\n")
    # An absolute path into the venv behind a BOM: relocated, the BOM kept.
    (site / "bom.pth").write_bytes(b"\xef\xbb\xbf" + f"{site / 'extra'}\n".encode())
    (site / "latin.pth").write_bytes("extra\n# caf\u00e9\n".encode("latin-1"))
    out = tmp_path / "out"
    # --no-verify: before 3.15, site reads .pth files in the locale's encoding, and the
    # sandbox's ASCII locale stops the interpreter at the BOM (what PEP 829 fixes).
    proc = cli("export", str(small_venv_copy), str(out), "--json", "--no-verify")
    assert proc.returncode == 0, proc.stderr
    found = {(f["code"], f["path"]) for f in json.loads(proc.stdout)["findings"]}
    assert ("start-entry-point", f"{SITE}/demo.start") in found
    assert ("pth-not-utf8", f"{SITE}/latin.pth") in found
    assert not [code for code, _ in found if code == "absolute-pth"]
    assert (out / SITE / "demo.start").read_bytes() == (site / "demo.start").read_bytes()
    assert (out / SITE / "bom.pth").read_bytes() == b"\xef\xbb\xbfextra\n"
    assert (out / SITE / "latin.pth").read_bytes() == (site / "latin.pth").read_bytes()
    checked = cli("check", str(out), "--json")
    assert checked.returncode == 0, checked.stdout
    found = {(f["code"], f["path"]) for f in json.loads(checked.stdout)["findings"]}
    assert ("start-entry-point", f"{SITE}/demo.start") in found
    assert ("pth-not-utf8", f"{SITE}/latin.pth") in found


def test_an_absolute_path_behind_a_bom_is_still_refused(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    """The BOM once hid the path from the .pth reader: negative control for the reading."""
    (small_venv_copy / SITE / "out.pth").write_bytes(b"\xef\xbb\xbf/opt/elsewhere/src\n")
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert proc.returncode == 5, proc.stderr
    assert "adds /opt/elsewhere/src (outside the environment)" in proc.stderr
