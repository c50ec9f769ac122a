"""The command line: parse options, call uv_portable.api, map errors to exit codes. No logic.

No `from __future__ import annotations` here: typer reads these annotations at run time, and
older typer releases (the ones Python 3.9 gets) do not resolve string annotations.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from uv_portable import __version__, interrupts
from uv_portable.cli_options import (
    AllowMissing,
    Arcroot,
    AsJson,
    Base,
    Bundle,
    CacheDir,
    Compile,
    CompileTests,
    DryRun,
    Entrypoint,
    Exclude,
    Extra,
    Force,
    Format,
    Group,
    InvalidationMode,
    KeepConfig,
    KeepTests,
    Level,
    NoCache,
    NoProgress,
    NoVerify,
    Output,
    PythonRequest,
    Quiet,
    Sandbox,
    Sbom,
    Target,
    TargetGlibc,
    Threads,
    Verbose,
)
from uv_portable.config import check_config, describe, load_config
from uv_portable.errors import Interrupted, UsageError
from uv_portable.exits import exit_code_for
from uv_portable.exits import say as _say
from uv_portable.render import (
    print_check,
    print_config,
    print_plan,
    progress_factory,
    report_export,
)
from uv_portable.settings import Settings

if TYPE_CHECKING:
    from uv_portable import api

# The pipeline (ELF/Mach-O readers, archive writers, rich) is imported by the commands that
# use it, so that `--version`, `--help` and `config --check` start quickly.

# typer vendors click in recent versions and depends on it in older ones: find its base class.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _plain_arguments() -> None:
    """Print arguments as click and uv do: `SRC [OUT]`, no `{SRC}` braces and no `<path>` type
    labels (typer 0.2x adds both; older releases, on Python 3.9, have neither hook)."""
    argument = getattr(typer.core, "TyperArgument", None)
    if argument is None or not hasattr(argument, "_usage_display_name"):
        return

    def usage(self: typer.core.TyperArgument) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    argument._usage_display_name = usage
    argument.display_type_rich = lambda self, ctx: ""


_plain_arguments()

app = typer.Typer(
    name="uv-portable",
    help="Make uv virtual environments self-contained and relocatable.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich costs ~0.3 s of imports
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class _Ui:
    """How much the run prints (-q, -v, --no-progress), from the root and the command."""

    quiet: bool = False
    verbose: bool = False
    progress: bool = True

    def reset(self) -> None:
        """A fresh run prints as much as its own flags say."""
        self.quiet, self.verbose, self.progress = False, False, True

    def set(self, quiet: bool, verbose: bool, no_progress: bool) -> None:
        self.quiet |= quiet
        self.verbose |= verbose
        self.progress &= not no_progress and not self.quiet
        if self.verbose:
            logging.basicConfig(level=logging.DEBUG, format="uv-portable: %(message)s")

    def say(self, message: str) -> None:
        if not self.quiet:
            _say(message)


_ui = _Ui()


def _version(value: bool) -> None:
    if value:
        print(f"uv-portable {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    no_progress: NoProgress = False,
) -> None:
    """Make uv virtual environments self-contained and relocatable."""
    _ui.set(quiet, verbose, no_progress)


@dataclass(frozen=True)
class _ExportFlags:
    """The flags `export` and `build` share, as settings given on the command line."""

    format: Optional[str]
    compression_level: Optional[int]
    threads: Optional[int]
    arcroot: Optional[str]
    keep_tests: Optional[bool]
    keep_config: Optional[bool]
    exclude: Optional[list[str]]
    target_glibc: Optional[str]
    allow_missing: Optional[list[str]]
    bundle: Optional[bool]
    compile: Optional[bool]
    compile_tests: Optional[bool]
    invalidation_mode: Optional[str]
    entrypoint: Optional[str]
    sandbox: Optional[str]

    def apply(self, settings: Settings) -> Settings:
        return settings.given(vars(self), "flag")


def _project_settings(project: Path, target: Optional[str]) -> Settings:
    if (project / "pyproject.toml").is_file():
        return load_config(project, target)
    if target is not None:
        raise UsageError(
            f"--target {target}: no pyproject.toml in {project}", "run in the project folder"
        )
    return Settings()


@app.command(short_help="Export a venv as a self-contained environment.")
def export(
    src: Annotated[Path, typer.Argument(metavar="SRC", help="The venv to export (e.g. .venv).")],
    out: Annotated[
        Optional[Path],
        typer.Argument(
            metavar="OUT", help="Output folder or archive (default: `output` of the config)."
        ),
    ] = None,
    force: Force = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    fmt: Format = None,
    level: Level = None,
    threads: Threads = None,
    arcroot: Arcroot = None,
    entrypoint: Entrypoint = None,
    sandbox: Sandbox = None,
    keep_tests: KeepTests = None,
    keep_config: KeepConfig = None,
    exclude: Exclude = None,
    target: Target = None,
    target_glibc: TargetGlibc = None,
    allow_missing: AllowMissing = None,
    bundle: Bundle = None,
    compile_: Compile = None,
    compile_tests: CompileTests = None,
    invalidation_mode: InvalidationMode = None,
    base: Base = None,
    no_verify: NoVerify = False,
    sbom: Sbom = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    no_progress: NoProgress = False,
) -> None:
    """Export SRC as a self-contained, relocatable Python environment at OUT."""
    _ui.set(quiet, verbose, no_progress)
    flags = _ExportFlags(
        fmt, level, threads, arcroot, keep_tests, keep_config, exclude, target_glibc,
        allow_missing, bundle, compile_, compile_tests, invalidation_mode, entrypoint, sandbox,
    )  # fmt: skip
    settings = flags.apply(_project_settings(Path.cwd(), target))
    settings = settings.given({"base": str(base) if base else None}, "flag")
    if out is None:
        if settings.output is None:
            raise UsageError(
                "no output given",
                "pass OUT, or set `output` in [tool.uv-portable] of pyproject.toml",
            )
        out = Path.cwd() / settings.output
    from uv_portable import api

    if dry_run:
        planned = api.plan_export(src, out, settings, force=force)
        _show_plan(planned, as_json)
        api.refuse_if_needed(planned.plan)
        return
    result = api.export(
        src, out, settings, force=force, verify=not no_verify, say=_ui.say,
        progress=progress_factory() if _ui.progress else None, sbom_path=sbom,
        cache=None if no_cache else _cache_root(cache_dir),
    )  # fmt: skip
    report_export(result, as_json, _ui.say)


def _show_plan(planned: "api.DryRun", as_json: bool) -> None:
    destination = planned.destination
    if as_json:
        where = {"output": str(destination.path), "format": destination.format}
        print(json.dumps({**planned.plan.to_json(), **where}, indent=2))
    else:
        print_plan(planned.plan, destination.describe())


@app.command(short_help="Build a uv project's portable environment.")
def build(
    project: Annotated[
        Path,
        typer.Argument(
            metavar="PROJECT",
            help="A folder of the uv project (default: the current folder).",
            show_default=False,
        ),
    ] = Path("."),
    output: Output = None,
    target: Target = None,
    python: PythonRequest = None,
    group: Group = None,
    extra: Extra = None,
    fmt: Format = None,
    level: Level = None,
    threads: Threads = None,
    arcroot: Arcroot = None,
    entrypoint: Entrypoint = None,
    sandbox: Sandbox = None,
    keep_tests: KeepTests = None,
    keep_config: KeepConfig = None,
    exclude: Exclude = None,
    target_glibc: TargetGlibc = None,
    allow_missing: AllowMissing = None,
    bundle: Bundle = None,
    compile_: Compile = None,
    compile_tests: CompileTests = None,
    invalidation_mode: InvalidationMode = None,
    force: Force = False,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    no_verify: NoVerify = False,
    sbom: Sbom = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    no_progress: NoProgress = False,
) -> None:
    """Build the portable environment of a uv project, as configured in [tool.uv-portable]."""
    _ui.set(quiet, verbose, no_progress)
    from uv_portable import api
    from uv_portable.source.project import find_project

    found = find_project(project)
    flags = _ExportFlags(
        fmt, level, threads, arcroot, keep_tests, keep_config, exclude, target_glibc,
        allow_missing, bundle, compile_, compile_tests, invalidation_mode, entrypoint, sandbox,
    )  # fmt: skip
    loaded = load_config(found, target)
    _ui.say(f"config: {describe(found, loaded)}")
    settings = flags.apply(loaded)
    settings = settings.given({"python": python, "groups": group, "extras": extra}, "flag")
    if dry_run:
        planned = api.plan_build(found, settings, output=output, force=force)
        _say(f"would build {found} into {planned.describe()}")
        return
    result = api.build(
        found, settings, output=output, force=force, verify=not no_verify, say=_ui.say,
        progress=progress_factory() if _ui.progress else None, sbom_path=sbom,
        cache=None if no_cache else _cache_root(cache_dir),
    )  # fmt: skip
    report_export(result, as_json, _ui.say)


@app.command("check", short_help="Check that an export is self-contained.")
def check_command(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="An exported folder, a venv, or an archive.")
    ],
    run_it: Annotated[
        bool, typer.Option("--run", help="Also run it in a sandbox that hides the host's Python.")
    ] = False,
    target_glibc: TargetGlibc = None,
    imports: Annotated[
        Optional[list[str]],
        typer.Option(
            "--import", metavar="MODULE", help="Also import this module in the run (repeatable)."
        ),
    ] = None,
    skip_imports: Annotated[
        Optional[list[str]],
        typer.Option(
            "--skip-import",
            metavar="MODULE",
            help="Do not import this module in the run (repeatable).",
        ),
    ] = None,
    sandbox: Sandbox = None,
    max_extract_size: Annotated[
        Optional[int],
        typer.Option(
            "--max-extract-size",
            metavar="BYTES",
            help="Refuse archives that expand past this (default: 32 GiB).",
        ),
    ] = None,
    max_members: Annotated[
        Optional[int],
        typer.Option(
            "--max-members",
            metavar="N",
            help="Refuse archives with more members (default: 1,000,000).",
        ),
    ] = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Check that PATH is self-contained: exit 0 when it is, 1 when it is not."""
    _ui.set(quiet, verbose, False)
    request = Settings().given({"sandbox": sandbox}, "flag").sandbox  # export's validator
    from uv_portable import api

    defaults = api.Caps()
    report = api.check(
        path,
        run=run_it,
        target_glibc=target_glibc,
        imports=tuple(imports or ()),
        skip_imports=tuple(skip_imports or ()),
        sandbox=request,
        caps=api.Caps(
            defaults.bytes if max_extract_size is None else max_extract_size,
            defaults.members if max_members is None else max_members,
        ),
    )
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    elif not _ui.quiet or not report.ok:
        print_check(report)
    if report.run_error is not None:
        raise report.run_error  # the sandbox could not start: the host's failure (exit 6)
    if not report.ok:
        raise typer.Exit(1)


@app.command("config", short_help="Show or validate the [tool.uv-portable] configuration.")
def config_command(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(
            metavar="PATHS",
            help="Project folders or pyproject.toml files (default: the current folder).",
            show_default=False,
        ),
    ] = None,
    target: Target = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only validate (every target); print nothing on success."),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Show the merged [tool.uv-portable] configuration as TOML (each key's origin as a
    comment), or validate it (--check)."""
    for path in paths or [Path(".")]:
        if check:
            check_config(path, target)
            continue
        project = path.parent if path.name == "pyproject.toml" else path
        settings = load_config(project, target)
        if as_json:
            origins = {key: settings.origin(key) for key in vars(settings) if key != "origins"}
            print(json.dumps({**settings.to_json(), "origins": origins}, indent=2))
        else:
            print_config(settings, project / "pyproject.toml")


cache_app = typer.Typer(
    help="Show or clean uv-portable's cache (pycs, import baselines), as `uv cache` does.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(cache_app, name="cache", short_help="Show or clean the cache of pycs and baselines.")


def _cache_root(option: Optional[Path]) -> Path:
    from uv_portable.write.pyc_cache import cache_root

    return cache_root(option)


@cache_app.command("dir", short_help="Print the cache folder.")
def cache_dir_command(cache_dir: CacheDir = None) -> None:
    """Print the cache folder."""
    print(_cache_root(cache_dir))


@cache_app.command("size", short_help="Print the cache's size.")
def cache_size_command(
    cache_dir: CacheDir = None,
    human: Annotated[bool, typer.Option("--human", "-H", help="In MB, with a file count.")] = False,
) -> None:
    """Print the cache's size in bytes."""
    from uv_portable.write.pyc_cache import usage

    files, total = usage(_cache_root(cache_dir))
    print(f"{total / 1e6:.1f} MB in {files} files" if human else total)


@cache_app.command("clean", short_help="Remove every entry of the cache.")
def cache_clean_command(cache_dir: CacheDir = None) -> None:
    """Remove every entry of the cache."""
    from uv_portable.write.pyc_cache import clean

    root = _cache_root(cache_dir)
    files, total = clean(root)
    _say(f"removed {files} files ({total / 1e6:.1f} MB) from {root}")


def run(argv: Optional[list[str]] = None) -> int:
    """Run the CLI and return its exit code (errors are printed, never raised)."""
    command = typer.main.get_command(app)
    _ui.reset()
    # Ctrl-C must unwind through our cleanup (or be remembered once the output is published),
    # not be turned into an exit code by the CLI framework. An ignored SIGINT stays ignored.
    interrupts.install()
    try:
        code = command.main(args=argv, prog_name="uv-portable", standalone_mode=False)
        if isinstance(code, int):
            return code  # non-standalone typer returns the code of an Exit
    except typer.Exit as exc:
        return int(exc.exit_code)
    except _ClickException as exc:  # a usage error of the CLI framework: our one format
        message = exc.format_message()  # type: ignore[attr-defined]
        return exit_code_for(UsageError(message, "see `uv-portable COMMAND --help`"))
    except typer.Abort:
        return exit_code_for(KeyboardInterrupt())
    except (Exception, KeyboardInterrupt, Interrupted) as exc:
        return exit_code_for(exc)
    return 0


__all__ = ["app", "run"]
