"""The SHA-256 that identifies a generated benchmark: a digest of its problems' fields.

A benchmark read from one data file carries that file's SHA-256; one generated in code (the
chained-components, misalignment and crypto studies) carries this digest of what it generated,
so a results file still says exactly which problems judged it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from passk.benchmarks.problem import Problem, set_fields


def problems_sha256(problems: Iterable[Problem]) -> str:
    """SHA-256 of the problems' fields (those not at their default), in order, as sorted-key
    JSON."""
    data = json.dumps([set_fields(p) for p in problems], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
