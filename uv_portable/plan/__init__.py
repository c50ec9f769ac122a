"""Turn a source venv into a Plan: every file's fate decided before anything is written.

One step per concern, each a function of a PlanState: the base interpreter (base.py), the
venv (venv.py), Mach-O files (macho.py), ELF files and their libraries (elf.py); tree.py walks
folders, state.py holds what is known and the one mapping of source paths to output paths.
"""

from __future__ import annotations

from uv_portable.binaries import BinaryFormatError
from uv_portable.errors import SourceError, io_error
from uv_portable.model import Action, Plan, SourceEnv
from uv_portable.plan.base import plan_base
from uv_portable.plan.elf import plan_elf
from uv_portable.plan.macho import plan_macho
from uv_portable.plan.state import PlanState
from uv_portable.plan.venv import plan_venv
from uv_portable.prove.glibc import highest_symbol_versions
from uv_portable.settings import PlanOptions

__all__ = ["PlanOptions", "make_plan"]


def make_plan(source: SourceEnv, options: PlanOptions | None = None) -> Plan:
    """Decide every action of an export; reads the source, writes nothing."""
    state = PlanState.start(source, options or PlanOptions())
    try:
        plan_base(state)
        plan_venv(state)
        macho_edits = plan_macho(state)
        patches = plan_elf(state)
    except OSError as exc:
        raise io_error(exc, exc.filename, writing=False) from exc
    except BinaryFormatError as exc:  # the base interpreter itself: nothing else to ship
        raise SourceError(exc.message, exc.hint or "reinstall the base interpreter") from exc
    actions: list[Action] = [state.dirs[d] for d in sorted(state.dirs)]
    actions += [state.files[d] for d in sorted(state.files)]
    actions += patches
    actions += macho_edits
    if state.bundled:
        names = ", ".join(sorted(name for name, _ in state.bundled))
        state.notes.append(f"bundled {len(state.bundled)} shared libraries into lib/: {names}")
    return Plan(
        source=source,
        actions=tuple(actions),
        findings=tuple(state.findings),
        notes=tuple(state.notes),
        bundled=tuple(state.bundled),
        glibc=tuple(sorted(state.floors.items())),
        bundling=state.options.bundle,
        target_glibc=state.options.target_glibc,
        missing=tuple(state.missing),
        data_gaps=tuple(state.data_gaps),
        host_data=tuple(sorted(set(state.host_data))),
        distributions=state.distributions,
        symbol_versions=highest_symbol_versions(state.symbol_needs),
    )
