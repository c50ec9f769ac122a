"""Apply the binary edits of a Plan to the staged copies (never to the source)."""

from __future__ import annotations

from pathlib import Path

from uv_portable.binaries import BinaryFormatError
from uv_portable.binaries.macho import rewrite_macho
from uv_portable.binaries.patchelf import set_search_path
from uv_portable.errors import RefusedError
from uv_portable.model import Plan, SetMachO, SetSearchPath
from uv_portable.write.materialize import safe_dest


def patch_binaries(plan: Plan, root: Path) -> tuple[int, list[str]]:
    """Rewrite the staged binaries (ELF RUNPATH/RPATH, Mach-O load commands, re-signing).

    Returns how many files changed, and one note per re-signed Mach-O slice.
    """
    count = 0
    signed: list[str] = []
    try:
        for action in plan.actions:
            if isinstance(action, SetSearchPath):
                dest = safe_dest(root, action.dest)
                set_search_path(dest, action.entries, as_rpath=action.as_rpath)
                count += 1
            elif isinstance(action, SetMachO):
                notes = rewrite_macho(
                    safe_dest(root, action.dest), dict(action.names), dict(action.rpaths)
                )
                signed += [f"{action.dest} ({note})" for note in notes]
                count += 1
    except BinaryFormatError as exc:  # dry-run at plan time: only a damaged file gets here
        raise RefusedError(exc.message, exc.hint) from exc
    return count, signed
