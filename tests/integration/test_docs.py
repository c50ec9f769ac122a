"""The docs do not rot: they build with no warnings, every `uv-portable` command in them parses,
the bare-host recipe runs in a Debian root with no Python, and the README's main job works."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tests.helpers import PROBE, REPO, cli, debian_root, probe_json, run, run_sandboxed
from uv_portable.cli import app

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def code_blocks(path: Path) -> list[tuple[str, str, str]]:
    """(language, code, the text just before the block) of every fenced block."""
    text = path.read_text()
    return [(m[1], m[2], text[max(0, m.start() - 200) : m.start()]) for m in FENCE.finditer(text)]


def documented_commands() -> list[tuple[str, list[str]]]:
    """Every `uv-portable ...` invocation in the shell blocks of the docs."""
    commands = []
    for doc in DOCS:
        for lang, code, _ in code_blocks(doc):
            if lang not in ("sh", "yaml", ""):
                continue
            for line in code.replace("\\\n", " ").splitlines():
                if "uv-portable " not in line or line.lstrip().startswith(("#", "- repo", "id:")):
                    continue
                words = shlex.split(line, comments=True)
                command: list[str] = []
                for word in [*words, "&&"]:
                    if word in ("&&", "||", ";", "|"):
                        if len(command) > 1 and command[0] == "uv-portable":
                            commands.append((doc.name, command[1:]))
                        command = []
                    elif command or word == "uv-portable":
                        command.append(word)
    return commands


def test_docs_build_with_no_warnings(tmp_path: Path) -> None:
    run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=REPO,
    )
    assert (tmp_path / "site" / "recipes" / "index.html").is_file()


@pytest.mark.parametrize(
    ("doc", "args"), documented_commands(), ids=lambda v: v if isinstance(v, str) else " ".join(v)
)
def test_documented_command_parses(doc: str, args: list[str]) -> None:
    group = typer.main.get_command(app)
    command = group.commands.get(args[0])  # type: ignore[attr-defined]
    assert command is not None, f"{doc}: unknown command {args[0]}"
    command.make_context(args[0], list(args[1:]))  # raises on unknown options or missing args


def test_documented_commands_were_found() -> None:
    names = {args[0] for _, args in documented_commands()}
    assert {"export", "build", "check", "config"} <= names


def test_bare_host_recipe_runs_in_debian_without_python(
    small_venv: Path, tmp_path: Path, bwrap: str
) -> None:
    recipes = REPO / "docs" / "recipes.md"
    block = next(code for lang, code, before in code_blocks(recipes) if "test_docs.py" in before)
    download = tmp_path / "dl"
    download.mkdir()
    proc = cli("export", str(small_venv), str(download / "env.tar.gz"))
    assert proc.returncode == 0, proc.stderr
    root = debian_root("bookworm")
    proc = run_sandboxed(
        download, ["sh", "-ec", f"cd /opt/dl\n{block}"], mount_at="/opt/dl", rootfs=root
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "/opt/app"
    assert "hello from /opt/app" in proc.stdout


def test_readme_main_job_builds_a_portable_uv_portable(tmp_path: Path, bwrap: str) -> None:
    readme = (REPO / "README.md").read_text()
    assert "uv run --frozen uv-portable build" in readme
    files = run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO).stdout.split()
    clone = tmp_path / "repo"
    for name in files:
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    proc = subprocess.run(
        [sys.executable, "-m", "uv_portable", "build"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    archive = clone / "dist" / "uv-portable-env.tar.gz"
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    run(["tar", "-xzf", str(archive), "-C", str(unpacked)])
    mount = "/opt/tool"
    proc = run_sandboxed(unpacked, [f"{mount}/bin/uv-portable", "--version"], mount_at=mount)
    assert proc.returncode == 0 and proc.stdout.startswith("uv-portable "), proc.stderr
    proc = run_sandboxed(unpacked, [f"{mount}/bin/python", "-c", PROBE], mount_at=mount)
    assert probe_json(proc.stdout)["prefix"] == mount


def test_every_option_the_docs_name_exists() -> None:
    group = typer.main.get_command(app)
    known = {"--help", "--version"}
    for command in group.commands.values():  # type: ignore[attr-defined]
        for param in command.params:
            known.update(param.opts)
            known.update(getattr(param, "secondary_opts", []))
    named = set()
    for doc in (REPO / "README.md", REPO / "docs" / "usage.md", REPO / "docs" / "recipes.md"):
        for code in re.findall(r"`([^`]+)`", doc.read_text()):
            named.update(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", code))
    spark_and_friends = {
        o
        for o in named
        if o.startswith(
            (
                "--conf",
                "--master",
                "--deploy-mode",
                "--archives",
                "--job-driver",
                "--application-id",
                "--execution-role-arn",
                "--frozen",
                "--relocatable",
                "--no-editable",
                "--managed-python",
                "--compile-bytecode",  # uv sync
                "--locked",
                "--sign",
            )
        )
    }
    assert named - spark_and_friends - known == set()
