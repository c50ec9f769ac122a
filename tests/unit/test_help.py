"""Every command's --help reads right: bracketed text survives, no type-shaped metavars, no
doubled spaces or empty brackets where markup ate a word."""

from __future__ import annotations

import re

import pytest
import typer

from uv_portable.cli import app, run

COMMANDS = ["", "export", "build", "check", "config"]
_TYPE_METAVAR = re.compile(r"<(str|int|bool|path|list\[str\]|list\[path\])>")


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    code = run([*command.split(), "--help"])
    assert code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_renders_cleanly(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(command, capsys)
    assert "[]" not in text and "()" not in text, text
    assert not re.search(r"\s\.(\s|$)", text, re.M), "a word before a full stop was eaten"
    options = [ln for ln in text.splitlines() if ln.lstrip().startswith("--")]
    assert options, text
    for line in options:
        assert not _TYPE_METAVAR.search(line.split("  ")[0]), line


def test_help_texts_have_no_doubled_spaces_or_empty_brackets() -> None:
    root = typer.main.get_command(app)
    commands = [root, *root.commands.values()]  # type: ignore[attr-defined]
    texts = [c.help or "" for c in commands]
    texts += [getattr(p, "help", None) or "" for c in commands for p in c.params]
    assert all(t for t in texts[: len(commands)]), "every command has a help text"
    for text in texts:
        assert "  " not in text and "[]" not in text and "()" not in text, text


def test_bracketed_words_survive(capsys: pytest.CaptureFixture[str]) -> None:
    assert "[tool.uv-portable]" in _help("", capsys)
    assert "[tool.uv-portable.targets.NAME]" in _help("export", capsys)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_reads_like_uv(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """-h works; arguments without {braces} or <type> labels; summaries not cut with '...';
    defaults said one way, `(default: ...)`."""
    code = run([*command.split(), "-h"])
    assert code == 0
    text = capsys.readouterr().out
    assert "{" not in text.split("\n\n")[0], text  # the usage line
    assert not re.search(r"<(path|list\[Path\]|str)>", text), text
    if "Commands:" in text:
        summaries = text.split("Commands:")[1].strip().splitlines()
        assert summaries and not any(line.endswith("...") for line in summaries), text
    assert "[default: " not in text, "typer's own default style"
    for flag in ("--bundle", "--level", "--keep-tests", "--compile"):
        if f"  {flag}" in text:
            entry = " ".join(text.split(flag, 1)[1].split("\n  -", 1)[0].split())
            assert "(default: " in entry, (flag, entry)
