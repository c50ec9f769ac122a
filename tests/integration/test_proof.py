"""Issue 11's proof: the manifest and SBOM of every export, differential import verification
(source vs export, moved and sandboxed), and the bad input around them."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.helpers import cli, tree_digest
from tests.integration.test_bad_input import assert_clean_failure, assert_nothing_written

MANIFEST = "share/uv-portable/manifest.json"
SBOM = "share/uv-portable/sbom.cdx.json"
SOURCE_UNUSABLE, VERIFY_FAILED, USAGE = 4, 1, 2

# Modules that misbehave while being imported: none of them may stop the export.
ODDITIES = {
    "hangmod": "import time\ntime.sleep(600)\n",
    "noisymod": "print('{not json at all')\nimport sys\nsys.stdout.write('[1, 2]\\n')\n",
    "exitmod": "import sys\nsys.exit(3)\n",
    "segvmod": "import ctypes\nctypes.string_at(0)\n",
    "extramod": "import an_optional_extra_that_is_not_installed\n",
}


def _site(venv: Path) -> Path:
    return venv / "lib" / "python3.12" / "site-packages"


def _add_distribution(venv: Path, name: str, modules: dict[str, str]) -> None:
    """Install a tiny distribution by hand: modules, METADATA, RECORD, top_level.txt."""
    site = _site(venv)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    for module, code in modules.items():
        (site / f"{module}.py").write_text(code)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("".join(f"{m}\n" for m in modules))
    record = [f"{m}.py,," for m in modules] + [f"{info.name}/{f},," for f in ("METADATA", "RECORD")]
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.fixture(scope="module")
def export(small_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("proof") / "env"
    proc = cli("export", str(small_venv), str(out), "--sbom", str(out.parent / "env.cdx.json"))
    assert proc.returncode == 0, proc.stderr
    return out


def test_manifest_records_what_was_shipped(export: Path) -> None:
    manifest = json.loads((export / MANIFEST).read_text())
    assert manifest["format"] == 1 and manifest["tool"]["name"] == "uv-portable"
    assert manifest["interpreter"]["kind"] == "uv-managed"
    assert manifest["interpreter"]["version"] == "3.12.1"
    assert manifest["platform"]["glibc_floor"]
    dists = {d["name"]: d for d in manifest["distributions"]}
    assert dists["cowsay"]["import_names"] == ["cowsay"]
    files = manifest["files"]
    python = files["bin/python3.12"]
    assert python["mode"] == "0755" and len(python["sha256"]) == 64
    assert files["bin/python"] == {"link": "python3.12"}
    assert MANIFEST not in files and SBOM not in files
    real = {str(p.relative_to(export)) for p in export.rglob("*") if not p.is_dir()}
    assert set(files) == real - {MANIFEST, SBOM}
    bundled = {b["soname"]: b for b in manifest["bundled_libraries"]}
    ssl = bundled["libssl.so.3"]
    assert ssl["os_package"]["manager"] == "dpkg" and ssl["os_package"]["name"] == "libssl3"
    assert ssl["os_package"]["version"]
    imports = manifest["imports"]
    assert {"cowsay", "ssl", "sqlite3"} <= set(imports["baseline"])
    assert imports["isolation"] == "bwrap"


def test_sbom_is_valid_cyclonedx(export: Path) -> None:
    text = (export / SBOM).read_text()
    validator = JsonStrictValidator(SchemaVersion.V1_5)
    assert validator.validate_str(text) is None
    assert validator.validate_str('{"bomFormat": "CycloneDX", "specVersion": 7}') is not None
    sbom = json.loads(text)
    purls = {c.get("purl") for c in sbom["components"]}
    assert "pkg:pypi/cowsay@6.1" in purls or any(
        p and p.startswith("pkg:pypi/cowsay@") for p in purls
    )
    assert "pkg:generic/cpython@3.12.1" in purls
    assert any(p and p.startswith("pkg:deb/debian/libssl3@") for p in purls)
    assert (export.parent / "env.cdx.json").read_text() == text  # --sbom writes a copy


def test_two_exports_are_byte_identical(small_venv: Path, export: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    proc = cli("export", str(small_venv), str(again))
    assert proc.returncode == 0, proc.stderr
    assert (again / MANIFEST).read_bytes() == (export / MANIFEST).read_bytes()
    assert tree_digest(again) == tree_digest(export)


def test_check_names_added_and_removed_files(export: Path, tmp_path: Path) -> None:
    copy = tmp_path / "env"
    shutil.copytree(export, copy, symlinks=True)
    (copy / "lib/python3.12/site-packages/cowsay/__main__.py").unlink()
    (copy / "bin/intruder").write_text("echo hi\n")
    proc = cli("check", str(copy), "--json")
    assert proc.returncode == 1
    found = {(f["code"], f["path"]) for f in json.loads(proc.stdout)["findings"]}
    assert ("file-missing", "lib/python3.12/site-packages/cowsay/__main__.py") in found
    assert ("file-extra", "bin/intruder") in found
    assert cli("check", str(export)).returncode == 0


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "is not valid JSON"),
        ('{"format": 99, "tool": {"version": "9.0"}}', "newer than this uv-portable"),
    ],
)
def test_unusable_manifest_is_one_plain_line(
    export: Path, tmp_path: Path, content: str, words: str
) -> None:
    copy = tmp_path / "env"
    shutil.copytree(export, copy, symlinks=True)
    (copy / MANIFEST).write_text(content)
    proc = cli("check", str(copy))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if "bad-manifest" in ln]
    assert len(lines) == 1 and words in lines[0], proc.stdout


def test_misbehaving_imports_are_reported_not_fatal(small_venv_copy: Path, tmp_path: Path) -> None:
    _add_distribution(small_venv_copy, "oddities", ODDITIES)
    out = tmp_path / "out"
    env = {**os.environ, "UV_PORTABLE_IMPORT_TIMEOUT": "5"}
    proc = cli("export", str(small_venv_copy), str(out), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    found = [f for f in summary["findings"] if f["code"] == "broken-in-source"]
    assert {f["path"] for f in found} == {"oddities"}  # named by the distribution (issue 19)
    prefix = "already broken in the source: "
    broken = {f["message"][len(prefix) :].split(": ")[0]: f["message"] for f in found}
    assert set(broken) == {"hangmod", "exitmod", "segvmod", "extramod"}
    assert "timed out after 5 s" in broken["hangmod"]
    assert "called sys.exit(3)" in broken["exitmod"]
    assert "crashed with signal 11" in broken["segvmod"]
    assert "No module named 'an_optional_extra_that_is_not_installed'" in broken["extramod"]
    manifest = json.loads((out / MANIFEST).read_text())
    assert "noisymod" in manifest["imports"]["baseline"]  # printing is not failing
    assert "hangmod" in manifest["imports"]["broken_in_source"]
    checked = cli("check", str(out), "--run", "--json", env=env)
    assert checked.returncode == 0, checked.stdout  # no false positive
    assert "noisymod" in json.loads(checked.stdout)["run"]["imported"]


def test_an_import_the_export_loses_is_an_error(small_venv_copy: Path, tmp_path: Path) -> None:
    """A module that works only where the source venv is: the export cannot import it."""
    leaning = f"open({str(small_venv_copy / 'pyvenv.cfg')!r}).close()\n"
    _add_distribution(small_venv_copy, "leaning", {"leanmod": leaning})
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, VERIFY_FAILED, "leanmod: imports in the source venv but not")
    assert "FileNotFoundError" in proc.stderr
    assert_nothing_written(tmp_path, keep=("venv",))


def test_foreign_tree_without_manifest_fails_only_on_portability(
    export: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "env"
    shutil.copytree(export, copy, symlinks=True)
    (copy / MANIFEST).unlink()
    _add_distribution(copy, "extras", {"extramod": "import not_installed_extra\n"})
    proc = cli("check", str(copy), "--run", "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, report
    infos = {f["path"] for f in report["findings"] if f["code"] == "import-failed-unknown"}
    assert infos == {"extramod"}
    os.unlink(next((copy / "lib/python3.12/lib-dynload").glob("_ssl.*.so")))
    proc = cli("check", str(copy), "--run", "--json")
    assert proc.returncode == 1
    errors = {f["path"] for f in json.loads(proc.stdout)["findings"] if f["severity"] == "error"}
    assert "ssl" in errors


def test_zero_filled_interpreter_is_not_self_contained(tmp_path: Path) -> None:
    archive = tmp_path / "fake.zip"
    with (
        zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("bin/python", "w") as fh,
    ):
        for _ in range(30):
            fh.write(bytes(1 << 20))
    proc = cli("check", str(archive), "--json")
    assert proc.returncode == 1
    codes = {f["code"] for f in json.loads(proc.stdout)["findings"]}
    assert {"not-an-interpreter", "no-stdlib"} <= codes
    capped = cli("check", str(archive), "--max-extract-size", "1000000")
    assert_clean_failure(capped, USAGE, "expands to more than 1000000 bytes")
    many = cli("check", str(archive), "--max-members", "0")
    assert_clean_failure(many, USAGE, "more than 0 members")


def test_base_upgraded_in_place_is_refused(small_venv_copy: Path, tmp_path: Path) -> None:
    cfg = small_venv_copy / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace("version_info = 3.12.1", "version_info = 3.12.0"))
    proc = cli("export", str(small_venv_copy), str(tmp_path / "out"))
    assert_clean_failure(proc, SOURCE_UNUSABLE, "was upgraded in place")
    assert "3.12.0" in proc.stderr and "3.12.1" in proc.stderr


def test_entry_points_are_verified_and_broken_ones_named_by_distribution(
    small_venv_copy: Path, tmp_path: Path
) -> None:
    """Issue 19: each console script's target imports in the export as in the source; one
    that is broken in the source too is a warning naming its distribution."""
    _add_distribution(small_venv_copy, "scripted", {"scriptmod": "def main():\n    pass\n"})
    info = _site(small_venv_copy) / "scripted-1.0.dist-info"
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nfine = scriptmod:main\ngone = scriptmod:renamed_long_ago\n"
    )
    out = tmp_path / "out"
    proc = cli("export", str(small_venv_copy), str(out), "--json", "--sandbox", "none")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["verified_how"] == "without isolation (--sandbox none)"
    [broken] = [f for f in summary["findings"] if f["code"] == "broken-in-source"]
    assert broken["path"] == "scripted"
    assert "entry point scriptmod:renamed_long_ago" in broken["message"]
    assert "has no attribute 'renamed_long_ago'" in broken["message"]
    baseline = json.loads((out / MANIFEST).read_text())["imports"]["baseline"]
    assert "scriptmod:main" in baseline and "cowsay.__main__:cli" in baseline
    checked = cli("check", str(out), "--run", "--sandbox", "none")
    assert checked.returncode == 0, checked.stdout
    files = len(json.loads((out / MANIFEST).read_text())["files"])
    assert f"files:   {files} files match the manifest" in checked.stdout
    assert "run:     interpreter started without isolation (--sandbox none)" in checked.stdout
    for command in (["export", str(small_venv_copy), str(tmp_path / "x")], ["check", str(out)]):
        assert_clean_failure(
            cli(*command, "--sandbox", "bogus"),
            USAGE,
            "--sandbox: expected one of auto, bwrap, unshare, none",
        )
