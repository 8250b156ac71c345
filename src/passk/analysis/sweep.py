"""Temperature sweeps (Chen et al. 2021, section 3.3 and Figure 5): pass@k against k for each
sampling temperature, and the best temperature for each k (the paper: 0.2 for pass@1 and 0.8 for
pass@100 at 679M parameters). `passk.pipeline.sweep` runs the temperatures; this module reads
their results.
"""

from __future__ import annotations

import os
from pathlib import Path

from passk.metrics import mean_pass_at_k
from passk.records import ResultsFile
from passk.records.result import pass_counts


def pass_at_k_curve(results: str | os.PathLike[str] | ResultsFile) -> list[list[float]]:
    """[[k, pass@k], ...] for k from 1 to the smallest number of samples per problem."""
    file = results if isinstance(results, ResultsFile) else ResultsFile(Path(results))
    counts = pass_counts(file.iter())
    tasks = sorted(counts)
    n, c = [counts[t][0] for t in tasks], [counts[t][1] for t in tasks]
    return [[k, mean_pass_at_k(n, c, k)] for k in range(1, min(n) + 1)]


def best_temperatures(curves: dict[str, list[list[float]]]) -> list[list[float]]:
    """[[k, temperature with the highest pass@k], ...] over the ks every temperature has; ties
    go to the lower temperature.

    >>> best_temperatures({"0.2": [[1, 0.3], [2, 0.4]], "0.8": [[1, 0.2], [2, 0.5]]})
    [[1, 0.2], [2, 0.8]]
    """
    common = min(len(curve) for curve in curves.values())
    ordered = sorted(curves, key=float)
    best = []
    for i in range(common):
        k = curves[ordered[0]][i][0]
        winner = max(ordered, key=lambda t: (curves[t][i][1], -float(t)))
        best.append([k, float(winner)])
    return best
