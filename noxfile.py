"""Sessions: lint, typecheck, tests (unit + integration), e2e (sandboxed exports), e2e_images
(OCI and SquashFS exports mounted read-only), e2e_windows (Windows venvs under Wine),
e2e_newest (CPython 3.14 and 3.15 in Debian sid roots), bench."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = [
    "lint",
    "typecheck",
    "docs",
    "tests",
    "e2e",
    "e2e_spark",
    "e2e_images",
    "e2e_windows",
    "e2e_newest",
]
nox.options.reuse_existing_virtualenvs = True

SOURCES = ["uv_portable", "tests", "bench", "noxfile.py"]


def _sync(session: nox.Session) -> None:
    """Install the locked project and its dev group into the session's venv."""
    session.run_install(
        "uv",
        "sync",
        "--frozen",
        "--group",
        "dev",
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        silent=True,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _sync(session)
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, its tests and benchmarks."""
    _sync(session)
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests."""
    _sync(session)
    session.run("pytest", "tests/unit", "tests/integration", *session.posargs)


@nox.session
def e2e(session: nox.Session) -> None:
    """Exports run with the build interpreter hidden (bubblewrap), CPython 3.9-3.13."""
    _sync(session)
    session.run(
        "pytest", "tests/e2e", "-m", "not spark and not images and not newest", *session.posargs
    )


@nox.session
def e2e_spark(session: nox.Session) -> None:
    """PySpark on a local-cluster with --archives, every host Python hidden (needs java)."""
    _sync(session)
    session.run("pytest", "tests/e2e", "-m", "spark", *session.posargs)


@nox.session
def e2e_images(session: nox.Session) -> None:
    """OCI and SquashFS exports mounted read-only: podman image volumes and layers, squashfuse."""
    _sync(session)
    session.run("pytest", "tests/e2e", "-m", "images", *session.posargs)


@nox.session
def e2e_newest(session: nox.Session) -> None:
    """CPython 3.14 and 3.15 from Debian sid: the tool runs under 3.14 in a sid root, exports
    run moved in a bare sid root (both roots debootstrap'ed once into the test cache)."""
    _sync(session)
    session.run("pytest", "tests/e2e", "-m", "newest", *session.posargs)


@nox.session
def e2e_windows(session: nox.Session) -> None:
    """Windows venvs made by Windows uv under Wine, exported, moved, run with originals hidden."""
    _sync(session)
    session.run("pytest", "tests/windows", *session.posargs)


@nox.session
def e2e_heavy(session: nox.Session) -> None:
    """~60 popular binary-wheel packages: export, check --run, real work in bare Debian.

    Not in the default run: a ~2 GB venv (cached in the uv and test caches). HEAVY_PACKAGES=a,b
    selects packages; HEAVY_EXPORT_ARGS gives a diagnostic export when the default one fails.
    """
    _sync(session)
    session.run("pytest", "tests/heavy", "-m", "heavy", "-rA", *session.posargs)


@nox.session
def e2e_torch(session: nox.Session) -> None:
    """The CUDA-enabled torch set (~5 GB): default export, torch on CPU in bare Debian.

    Not in the default run. HEAVY_UV_ARGS adds `uv pip install` options (a local --find-links).
    """
    _sync(session)
    session.run("pytest", "tests/heavy", "-m", "torch", "-rA", *session.posargs)


@nox.session
def e2e_macos(session: nox.Session) -> None:
    """On a macOS runner: export a real uv venv, move it, run it with a clean environment."""
    _sync(session)
    session.run("pytest", "tests/macos", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the user guide with mkdocs; warnings are errors."""
    _sync(session)
    session.run("mkdocs", "build", "--strict", "-d", "site")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against venv-pack, tar | pigz and cp -a; prints ratios."""
    _sync(session)
    session.install("venv-pack")
    session.run("python", "bench/run.py", *session.posargs)
