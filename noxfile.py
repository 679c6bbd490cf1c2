"""Task entry point: `nox -s tests`, `nox -s lint`, `nox -s build`, `nox -s bench`, `nox -s synth`.

Every session installs with pip and `-c constraints.txt` (the versions tested together; torch is pinned
to the CPU wheel these machines carry). Later issues add `train`, `eval`, `vllm` and `docs`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
LOCAL = [*(f"./packages/{p}" for p in PACKAGES), *(f"./services/{s}" for s in SERVICES)]
# extras installed into a package's own test venv (heavy optional backends get sessions of their own)
TEST_EXTRAS = {"memalpha-memory": "[embeddings]"}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["tests", "lint"]
nox.options.error_on_missing_interpreters = True


def install(session: nox.Session, *args: str) -> None:
    session.install(*CONSTRAINTS, *args)


def group(pyproject: Path, name: str) -> list[str]:
    return list(nox.project.dependency_groups(nox.project.load_toml(pyproject), name))


@nox.session
@nox.parametrize("package", [*PACKAGES, *SERVICES, "cross-package"])
def tests(session: nox.Session, package: str) -> None:
    """Each package's tests in a venv of its own (package + declared deps), each service's, then cross-package."""
    env = {**OFFLINE, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci")}
    if package == "cross-package":
        install(session, *LOCAL, "pytest", "hypothesis")
        session.run("pytest", "tests", *session.posargs, env=env)
        return
    if package in SERVICES:
        # services depend on the local packages (and the CLI on the server), which are not on an index
        folder = ROOT / "services" / package
        install(session, *LOCAL, *group(folder / "pyproject.toml", "test"))
        session.run("pytest", f"services/{package}/tests", *session.posargs, env=env)
        return
    folder = ROOT / "packages" / package
    install(session, f"./packages/{package}{TEST_EXTRAS.get(package, '')}", *group(folder / "pyproject.toml", "test"))
    session.run("pytest", f"packages/{package}/tests", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (format and rules), import contracts (dependency direction) and mypy."""
    install(session, *LOCAL, *group(ROOT / "pyproject.toml", "lint"))
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")
    session.run("lint-imports")
    session.run("mypy")


def readme_example(package: str) -> str | None:
    """The first ```python block of a package's README, or None."""
    text = (ROOT / "packages" / package / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.S)
    return match.group(1) if match else None


@nox.session
def build(session: nox.Session) -> None:
    """Build every package's wheel, install each alone into a fresh venv, import it and run its README example."""
    install(session, *group(ROOT / "pyproject.toml", "build"))
    dist = Path(session.create_tmp()) / "dist"
    for package in PACKAGES:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(dist / package), f"packages/{package}")
        wheel = next((dist / package).glob("*.whl"))
        venv = Path(session.create_tmp()).resolve() / f"venv-{package}"
        session.run("python", "-m", "venv", "--clear", str(venv))
        python = str(venv / "bin" / "python")
        session.run(python, "-m", "pip", "install", "--quiet", *CONSTRAINTS, str(wheel), external=True)
        module = package.replace("-", "_")
        session.run(python, "-c", f"import {module}; print({module}.__name__, 'imports alone')", external=True)
        example = readme_example(package)
        if example is not None:
            with session.chdir(session.create_tmp()):
                session.run(python, "-c", example, external=True, silent=True)
            session.log(f"{package}: the README example runs in a venv of the wheel alone")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (ratios against baselines run in the same process) and the server's load test; JSON in runs/bench/."""
    install(session, *LOCAL, *group(ROOT / "pyproject.toml", "bench"))
    out = ROOT / "runs" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    session.run("python", "packages/memalpha-memory/benchmarks/bench_memory.py", "--out", str(out), *session.posargs)
    session.run("python", "packages/memalpha-data/benchmarks/bench_generator.py", "--out", str(out))
    session.run(
        "python", "services/memory-server/benchmarks/load_test.py", "--out", str(out / "memory-server-load.json")
    )


@nox.session
def synth(session: nox.Session) -> None:
    """Build the dataset recipes (default: mini, train, eval, length-sweep) into datasets/generated/."""
    install(session, "./packages/memalpha-data")
    session.run("python", "datasets/build.py", *session.posargs, env=OFFLINE)
