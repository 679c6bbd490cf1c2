"""Run folders: one folder per training or evaluation run, holding what is needed to trust and resume it.

Layout of ``runs/<run-id>/``::

    config.json      the exact config the run was started with (written last: its presence marks a run folder)
    versions.json    python, platform and the versions of the installed packages that matter
    datasets.json    path, size and sha256 of every named data file (or folder)
    metrics.jsonl    one JSON record per logged step
    results/         EvalResult lists (``results/<name>.json``)
    report.md        tables and plots (`memalpha_rollout.reporting.write_report`)
    plots/ traces/ html/ checkpoints/

Versions are read from package metadata, never by importing the packages (no torch import).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import platform
import re
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ._files import append_lines, write_text_atomic
from .exceptions import RunFolderError
from .results import EvalResult

__all__ = ["SUBFOLDERS", "RunFolder", "collect_versions", "dataset_fingerprint"]

logger = logging.getLogger(__name__)

SUBFOLDERS = ("plots", "traces", "html", "checkpoints")
_RESULTS = TypeAdapter(list[EvalResult])
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")
_TRACKED = ("torch", "transformers", "trl", "vllm", "accelerate", "peft", "datasets", "lancedb", "pyarrow",
            "numpy", "pydantic", "openai", "matplotlib", "sentence-transformers", "gguf")  # fmt: skip


def _json_default(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    raise TypeError(f"object of type {type(value).__name__} is not JSON-serialisable")


def _to_json(value: object, what: str, **kwargs: Any) -> str:
    try:
        return json.dumps(value, default=_json_default, ensure_ascii=False, **kwargs)
    except (TypeError, ValueError) as error:
        raise RunFolderError(
            f"{what} cannot be written as JSON: {error}; pass plain numbers, strings, lists and dicts"
        ) from error


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RunFolderError(
            f"{what} {name!r} is not a valid name: use letters, digits, '_', '.' and '-' (not starting with '.' or '-')"
        )
    return name


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()


def dataset_fingerprint(path: str | Path) -> dict[str, Any]:
    """Path, size and sha256 of a data file; for a folder, of all its files (hashed by relative path and content).

    Raises:
        RunFolderError: ``path`` does not exist.
    """
    path = Path(path)
    if path.is_file():
        size, sha = _file_digest(path)
        return {"path": str(path), "size": size, "sha256": sha}
    if path.is_dir():
        digest, size, files = hashlib.sha256(), 0, 0
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            file_size, file_sha = _file_digest(file)
            digest.update(f"{file.relative_to(path).as_posix()}\0{file_sha}\n".encode())
            size, files = size + file_size, files + 1
        return {"path": str(path), "size": size, "sha256": digest.hexdigest(), "files": files}
    raise RunFolderError(f"dataset file {str(path)!r} does not exist; pass the paths the run reads")


def collect_versions() -> dict[str, Any]:
    """Python, platform and the installed versions of memalpha-* and the ML stack (metadata only, no imports)."""
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = str(dist.metadata["Name"] or "")
        if name.lower().replace("_", "-").startswith("memalpha-"):
            packages[name.lower().replace("_", "-")] = dist.version
    for name in _TRACKED:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": dict(sorted(packages.items())),
    }


class RunFolder:
    """One run's folder: ``config.json``, ``versions.json``, ``datasets.json``, metrics, results and outputs.

    Make one with `RunFolder.create`, read one back with `RunFolder.open`.
    """

    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path = path
        self.config = config

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def run_id(self) -> str:
        """The folder's name."""
        return self.path.name

    @classmethod
    def create(
        cls,
        root: str | Path = "runs",
        *,
        run_id: str | None = None,
        name: str = "run",
        config: Mapping[str, Any] | None = None,
        datasets: Mapping[str, str | Path] | None = None,
        exist_ok: bool = False,
    ) -> RunFolder:
        """Create ``<root>/<run_id>/`` and write its config, versions and dataset hashes.

        Args:
            root: Folder holding the runs.
            run_id: The folder's name; default ``<UTC yyyymmdd-hhmmss>-<name>`` (``-2``, ``-3``... when taken).
            name: The suffix of the default run id.
            config: The run's config, written as it is to ``config.json`` (must be JSON-serialisable).
            datasets: Data files by name, fingerprinted into ``datasets.json``.
            exist_ok: Reopen an existing run folder (resume). Its stored config and dataset hashes must then
                equal those passed (when passed).

        Raises:
            RunFolderError: The folder exists (without ``exist_ok``), or exists but is not a run folder, or a
                resumed run was given another config or changed data, or a name or value is invalid.
        """
        config_json = json.loads(_to_json(dict(config or {}), "config"))
        fingerprints = {
            _check_name(key, "dataset name"): dataset_fingerprint(value) for key, value in (datasets or {}).items()
        }
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        if run_id is None:
            base = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{_check_name(name, 'run name')}"
            path, suffix = root / base, 1
            while path.exists() and not exist_ok:
                suffix += 1
                path = root / f"{base}-{suffix}"
        else:
            path = root / _check_name(run_id, "run id")
        try:
            path.mkdir()
        except FileExistsError:
            if not exist_ok:
                raise RunFolderError(
                    f"run folder {str(path)!r} already exists; pass exist_ok=True to resume it or choose another run_id"
                ) from None
            if (path / "config.json").is_file():
                return cls._resume(path, config_json if config is not None else None, fingerprints)
            if any(path.iterdir()):
                raise RunFolderError(f"{str(path)!r} exists and is not a run folder (no config.json)") from None
        for sub in SUBFOLDERS:
            (path / sub).mkdir(exist_ok=True)
        write_text_atomic(path / "versions.json", _to_json(collect_versions(), "versions", indent=2) + "\n")
        write_text_atomic(path / "datasets.json", _to_json(fingerprints, "datasets", indent=2) + "\n")
        write_text_atomic(
            path / "config.json", _to_json(config_json, "config", indent=2) + "\n"
        )  # last: marks complete
        logger.info("created run folder %s", path)
        return cls(path, config_json)

    @classmethod
    def _resume(cls, path: Path, config: dict[str, Any] | None, fingerprints: dict[str, Any]) -> RunFolder:
        run = cls.open(path)
        if config is not None and config != run.config:
            changed = sorted(k for k in config.keys() | run.config.keys() if config.get(k) != run.config.get(k))
            raise RunFolderError(
                f"cannot resume {str(path)!r} with another config (keys {changed!r} differ); "
                "start a new run or pass the stored config (RunFolder.open(path).config)"
            )
        stored = _read_json(path / "datasets.json", default={})
        changed = sorted(k for k, v in fingerprints.items() if k in stored and stored[k]["sha256"] != v["sha256"])
        if changed:
            raise RunFolderError(f"cannot resume {str(path)!r}: datasets {changed!r} changed since the run started")
        if fingerprints.keys() - stored.keys():
            write_text_atomic(path / "datasets.json", _to_json({**stored, **fingerprints}, "datasets", indent=2) + "\n")
        versions = collect_versions()["packages"]
        old = _read_json(path / "versions.json", default={}).get("packages", {})
        differ = sorted(k for k in versions.keys() | old.keys() if versions.get(k) != old.get(k))
        if differ:
            logger.warning("resuming %s with other package versions than it started with: %s", path, differ)
        for sub in SUBFOLDERS:
            (path / sub).mkdir(exist_ok=True)
        logger.info("resuming run folder %s", path)
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Open an existing run folder.

        Raises:
            RunFolderError: ``path`` has no readable ``config.json``.
        """
        path = Path(path)
        if not (path / "config.json").is_file():
            raise RunFolderError(f"{str(path)!r} is not a run folder (no config.json); create it with RunFolder.create")
        config = _read_json(path / "config.json")
        if not isinstance(config, dict):
            raise RunFolderError(f"{str(path / 'config.json')!r} does not hold a JSON object")
        return cls(path, config)

    @property
    def metrics_path(self) -> Path:
        """``metrics.jsonl``."""
        return self.path / "metrics.jsonl"

    def log_metrics(self, record: Mapping[str, Any]) -> None:
        """Append one record to ``metrics.jsonl`` and flush it (``time``, unix seconds, is added if absent).

        A partial last line left by a killed run is dropped first, so the file stays one record per line.
        """
        line = _to_json({**record} if "time" in record else {**record, "time": time.time()}, "metrics record")
        append_lines(self.metrics_path, [line])

    def read_metrics(self) -> list[dict[str, Any]]:
        """All records of ``metrics.jsonl`` (none if it is missing); a truncated last line is skipped.

        Raises:
            RunFolderError: A line other than the last is not a JSON object.
        """
        if not self.metrics_path.is_file():
            return []
        lines = self.metrics_path.read_text(encoding="utf-8").splitlines()
        records: list[dict[str, Any]] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                if number == len(lines):
                    logger.warning("skipped a truncated last line of %s", self.metrics_path)
                    break
                raise RunFolderError(f"{self.metrics_path}: line {number} is not JSON: {error}") from error
            if not isinstance(record, dict):
                raise RunFolderError(f"{self.metrics_path}: line {number} is not a JSON object")
            records.append(record)
        return records

    def write_results(self, results: Sequence[EvalResult], name: str = "results") -> Path:
        """Write ``results/<name>.json`` atomically and return its path."""
        path = self.path / "results" / f"{_check_name(name, 'results name')}.json"
        return write_text_atomic(path, _RESULTS.dump_json(list(results), indent=2).decode() + "\n")

    def read_results(self, name: str = "results") -> list[EvalResult]:
        """Read ``results/<name>.json``.

        Raises:
            RunFolderError: The file is missing or is not a list of EvalResults.
        """
        path = self.path / "results" / f"{_check_name(name, 'results name')}.json"
        if not path.is_file():
            raise RunFolderError(f"no results named {name!r} in {str(self.path)!r} (looked for {str(path)!r})")
        try:
            return _RESULTS.validate_json(path.read_bytes())
        except ValidationError as error:
            raise RunFolderError(f"{path} is not a list of EvalResults: {str(error).splitlines()[0]}") from error

    def trace_path(self, name: str) -> Path:
        """``traces/<name>.jsonl`` (for `memalpha_rollout.trace.write_traces`)."""
        return self.path / "traces" / f"{_check_name(name, 'trace name')}.jsonl"


def _read_json(path: Path, **kw: Any) -> Any:
    if not path.is_file() and "default" in kw:
        return kw["default"]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise RunFolderError(f"cannot read {str(path)!r} as JSON: {error}") from error
