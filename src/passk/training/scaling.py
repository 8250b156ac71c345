"""Validation loss against model size: train several presets on the same data and budget, and
fit the power law L(N) = (N_c / N)^alpha of Kaplan et al. (2020).

Chen et al. (2021), section 3.1 and figure 4: Codex's test loss on held-out code follows such a
law in non-embedding parameters N, with alpha = 0.13 and N_c = 5.92e7. Their N_c depends on their
data and tokenizer, so on another corpus only alpha compares. The fit is least squares on the
logarithms, log L = alpha log N_c - alpha log N: a straight line in a log-log plot.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from passk.errors import InputError, OutputError
from passk.records.files import write_text_atomic
from passk.training.presets import get_preset
from passk.training.trainer import SUMMARY_FILE, TrainConfig, _find_checkpoint, train

PAPER_ALPHA = 0.13
PAPER_N_C = 5.92e7
SCALING_FILE = "scaling.json"
PLOT_FILE = "scaling.png"
_SAME_RUN = ("data", "tokenizer", "tokens", "context", "seed", "batch_tokens", "lr")


@dataclass(frozen=True)
class PowerLaw:
    """L(N) = (n_c / N) ** alpha."""

    alpha: float
    n_c: float

    def loss(self, n: float) -> float:
        return float((self.n_c / n) ** self.alpha)


PAPER_LAW = PowerLaw(PAPER_ALPHA, PAPER_N_C)


def fit_power_law(sizes: Sequence[float], losses: Sequence[float]) -> PowerLaw:
    """Least-squares fit of L = (N_c / N)^alpha to (N, L) points, in log-log space.

    >>> law = fit_power_law([1e6, 1e8], [PAPER_LAW.loss(1e6), PAPER_LAW.loss(1e8)])
    >>> round(law.alpha, 6), round(law.n_c / 1e7, 6)
    (0.13, 5.92)
    """
    import numpy as np

    if len(sizes) != len(losses):
        raise InputError(f"{len(sizes)} sizes but {len(losses)} losses")
    if any(v <= 0 or not math.isfinite(v) for v in (*sizes, *losses)):
        raise InputError("a power law needs positive, finite sizes and losses")
    if len(set(sizes)) < 2:
        raise InputError("fitting a power law needs at least two different model sizes")
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(losses, float))
    (slope, intercept), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), y, rcond=None)
    alpha = -float(slope)
    if alpha <= 1e-9:  # flat or rising: N_c would be infinite or meaningless
        raise InputError(
            f"the validation loss does not fall with model size (fitted alpha {alpha:.4f}): "
            "no power law to fit; train longer (more --tokens) so the models can differ"
        )
    log_n_c = float(intercept) / alpha
    if log_n_c > 700:  # exp would overflow: the slope is too shallow to place N_c
        raise InputError(
            f"the validation loss barely falls with model size (fitted alpha {alpha:.2e}): "
            "N_c is out of range; train longer (more --tokens) so the models can differ"
        )
    return PowerLaw(alpha, math.exp(log_n_c))


def scaling(
    base: TrainConfig,
    presets: Sequence[str],
    out: str | Path,
    *,
    device: str = "auto",
    compile: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train each preset with the settings of `base` (a TrainConfig) into out/<preset>/, fit
    the power law to their validation losses, write scaling.json and scaling.png; return the
    report. Finished runs are reused and unfinished ones resumed, so a stopped sweep continues.
    """
    out = Path(out)
    _check_presets(presets)
    valid = Path(base.data) / "valid.bin"
    if not valid.is_file() or not valid.stat().st_size:
        raise InputError(f"{base.data}: no valid.bin to measure the loss on")
    runs = [
        _train_preset(replace(base, preset=name), out / name, device, compile, on_row)
        for name in presets
    ]
    law: PowerLaw | None = None
    failure = None
    try:
        law = fit_power_law(
            [r["non_embedding_parameters"] for r in runs], [r["valid_loss"] for r in runs]
        )
    except InputError as e:  # the runs are kept and written; the fit is reported as failed
        failure = str(e)
    report: dict[str, Any] = {
        "runs": runs,
        "fit": None
        if law is None
        else {"alpha": law.alpha, "n_c": law.n_c, "law": "L(N) = (N_c / N)^alpha"},
        "fit_error": failure,
        "paper": {
            "alpha": PAPER_ALPHA,
            "n_c": PAPER_N_C,
            "source": "Chen et al. 2021, figure 4 (their data and tokenizer)",
        },
        "parameters": "non-embedding",
        "config": {k: v for k, v in asdict(base).items() if k != "preset"},
    }
    try:
        out.mkdir(parents=True, exist_ok=True)
        report["plot"] = _plot(runs, law, out / PLOT_FILE)
        write_text_atomic(out / SCALING_FILE, json.dumps(report, indent=2) + "\n")
    except OSError as e:
        raise OutputError(f"{out}: cannot write: {e.strerror}") from None
    if failure is not None:
        raise InputError(f"{failure} (the runs' losses are in {out / SCALING_FILE})")
    return report


def _check_presets(presets: Sequence[str]) -> None:
    for name in presets:
        get_preset(name)
    twice = sorted({p for p in presets if presets.count(p) > 1})
    if twice:
        raise InputError(f"--presets names {', '.join(twice)} more than once")
    if len(presets) < 2:
        raise InputError("--presets needs at least two presets: one model size fits no law")


def _train_preset(
    config: TrainConfig,
    run_dir: Path,
    device: str,
    compile: bool,
    on_row: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    summary_path = run_dir / SUMMARY_FILE
    if summary_path.is_file():
        summary, status = json.loads(summary_path.read_text()), "reused"
        theirs, ours = summary["config"], asdict(config)
        differ = [k for k in _SAME_RUN if theirs.get(k) != ours[k]]
        if differ:
            raise InputError(
                f"{run_dir} holds a finished run with other settings ("
                + ", ".join(f"{k}={theirs.get(k)!r}, asked {ours[k]!r}" for k in differ)
                + "): choose a new --out"
            )
    else:
        resume = _find_checkpoint(run_dir) is not None
        summary = train(config, run_dir, resume=resume, device=device, compile=compile,
                        on_row=on_row)  # fmt: skip
        status = "resumed" if resume else "trained"
    if summary["final_valid_loss"] is None:
        raise InputError(f"{config.data}: no valid.bin to measure the loss on")
    return {
        "preset": config.preset,
        "non_embedding_parameters": summary["non_embedding_parameters"],
        "parameters": summary["parameters"],
        "valid_loss": summary["final_valid_loss"],
        "train_loss": summary["final_train_loss"],
        "tokens": summary["tokens"],
        "steps": summary["steps"],
        "dir": str(run_dir),
        "status": status,
    }


def _plot(runs: list[dict[str, Any]], law: PowerLaw | None, path: Path) -> str | None:
    """Points, the fitted line and the paper's law (dashed), on log-log axes."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FormatStrFormatter
    except ImportError:
        return None
    import numpy as np

    sizes = [r["non_embedding_parameters"] for r in runs]
    grid = np.geomspace(min(sizes) / 2, max(sizes) * 2, 50)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    ax.loglog(sizes, [r["valid_loss"] for r in runs], "o", label="passk presets")
    for r in runs:
        ax.annotate(r["preset"], (r["non_embedding_parameters"], r["valid_loss"]),
                    textcoords="offset points", xytext=(5, 5), fontsize=8)  # fmt: skip
    if law is not None:
        ax.loglog(grid, [law.loss(n) for n in grid],
                  label=rf"fit: $\alpha$ = {law.alpha:.3f}, $N_c$ = {law.n_c:.3g}")  # fmt: skip
    ax.loglog(grid, [PAPER_LAW.loss(n) for n in grid], "--",
              label=rf"Chen et al. 2021: $\alpha$ = {PAPER_ALPHA}, $N_c$ = {PAPER_N_C:.3g}")  # fmt: skip
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("validation loss (nats/token)")
    for ticks in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        ticks(FormatStrFormatter("%g"))  # "3", not "3 x 10^0"
    ax.set_title(r"$L(N) = (N_c / N)^\alpha$")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return str(path)
