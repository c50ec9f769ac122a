"""Apply the binary edits of a Plan to the staged copies (never to the source)."""

from __future__ import annotations

from pathlib import Path

from uv_portable.binaries.patchelf import set_search_path
from uv_portable.materialize import safe_dest
from uv_portable.model import Plan, SetSearchPath


def patch_binaries(plan: Plan, root: Path) -> int:
    """Rewrite RUNPATH/RPATH of the staged ELF files; return how many were changed."""
    count = 0
    for action in plan.actions:
        if isinstance(action, SetSearchPath):
            set_search_path(safe_dest(root, action.dest), action.entries, as_rpath=action.as_rpath)
            count += 1
    return count
