"""Runs work snippets or imports with the interpreter under test, one child process each.

Executed by the interpreter being tested (the source venv's, or the export's inside the bare
Debian root), so it uses only the standard library. Prints one JSON line per item:
``{"kind", "name", "ok", "seconds", "output"}``. A crash, a hang (timeout) or a non-zero exit
of one item is that item's failure and does not stop the others.

    python runner.py snippets DIR [NAME ...]   run DIR/snippet_NAME.py (default: all in DIR)
    python runner.py imports MODULE ...        import each top-level module
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT = float(os.environ.get("HEAVY_ITEM_TIMEOUT", "300"))
# The script's folder comes first on sys.path: a file named numpy.py would shadow numpy.
PREFIX = "snippet_"
IMPORT = "import importlib, sys; importlib.import_module(sys.argv[1])"


def _run(kind: str, name: str, argv: list[str]) -> None:
    work = tempfile.mkdtemp(prefix=f"heavy-{name}-")
    start = time.monotonic()
    try:
        proc = subprocess.run(
            argv, cwd=work, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        ok = proc.returncode == 0
        output = (proc.stdout + proc.stderr).strip()
        if proc.returncode < 0:
            output += f"\n(killed by signal {-proc.returncode})"
    except subprocess.TimeoutExpired:
        ok, output = False, f"timed out after {TIMEOUT:.0f} s"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = round(time.monotonic() - start, 2)
    record = {"kind": kind, "name": name, "ok": ok, "seconds": seconds, "output": output[-4000:]}
    print(json.dumps(record), flush=True)


def main(args: list[str]) -> int:
    """Run the items named on the command line."""
    kind, rest = args[0], args[1:]
    if kind == "snippets":
        folder, names = rest[0], rest[1:]
        if not names:
            files = sorted(os.listdir(folder))
            names = [
                f[len(PREFIX) : -3] for f in files if f.startswith(PREFIX) and f.endswith(".py")
            ]
        for name in names:
            _run(kind, name, [sys.executable, os.path.join(folder, f"{PREFIX}{name}.py")])
    elif kind == "imports":
        for module in rest:
            _run(kind, module, [sys.executable, "-c", IMPORT, module])
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
