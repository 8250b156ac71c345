"""Tests for the scaling-law fit and `passk scaling` (Chen et al. 2021, figure 4).

The fit against synthetic points from a known law; the command end to end on the two smallest
presets with a budget of four steps each (the data of test_train: pico, context 32).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from passk.cli import main
from passk.errors import InputError
from passk.training.scaling import PAPER_LAW, PowerLaw, fit_power_law, scaling
from passk.training.trainer import train
from test_train import config, make_data

SIZES = [1e5, 3e5, 1e6, 3e6, 1e7, 1e8]


@pytest.mark.parametrize("law", [PAPER_LAW, PowerLaw(0.07, 2.5e13), PowerLaw(0.5, 1e4)])
def test_fit_recovers_a_noise_free_law(law: PowerLaw) -> None:
    fit = fit_power_law(SIZES, [law.loss(n) for n in SIZES])
    assert fit.alpha == pytest.approx(law.alpha, rel=1e-9)
    assert fit.n_c == pytest.approx(law.n_c, rel=1e-6)


def test_fit_with_noise_is_close() -> None:
    rng = np.random.default_rng(0)
    sizes = np.geomspace(1e5, 1e9, 12)
    losses = [PAPER_LAW.loss(n) * math.exp(rng.normal(0, 0.01)) for n in sizes]
    fit = fit_power_law(list(sizes), losses)
    assert fit.alpha == pytest.approx(0.13, abs=0.01)
    assert math.log10(fit.n_c) == pytest.approx(math.log10(5.92e7), abs=0.5)
    # Not exact: the noise moves the fit (a fit that ignored its input would pass the above).
    assert fit.alpha != pytest.approx(0.13, abs=1e-6)


def test_fit_refuses_what_fits_no_law() -> None:
    with pytest.raises(InputError, match="at least two different model sizes"):
        fit_power_law([1e6, 1e6], [3.0, 2.9])
    with pytest.raises(InputError, match="positive, finite"):
        fit_power_law([1e6, 1e7], [3.0, 0.0])
    with pytest.raises(InputError, match="does not fall with model size"):
        fit_power_law([1e6, 1e7], [3.0, 3.0])
    with pytest.raises(InputError, match="does not fall with model size"):
        fit_power_law([1e6, 1e7], [3.0, 3.1])
    # Measured on this project's CPU at 1.5M tokens a model: a slope too shallow to place N_c
    # (it once overflowed math.exp).
    with pytest.raises(InputError, match="N_c is out of range"):
        fit_power_law([106816, 803968, 4820224], [6.941518, 6.75528, 6.948735])


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("scaling").resolve())


def test_scaling_end_to_end(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = config(root, tokens=1024, eval_interval=1000)
    out = tmp_path / "runs"
    # An unfinished pico run already there: the sweep resumes it.
    train(base, out / "pico", stop_after=2)
    report = scaling(base, ["pico", "nano"], out)
    assert [(r["preset"], r["status"], r["steps"]) for r in report["runs"]] == [
        ("pico", "resumed", 4),
        ("nano", "trained", 4),
    ]
    pico, nano = report["runs"]
    assert (pico["non_embedding_parameters"], nano["non_embedding_parameters"]) == (
        2 * (4 * 64**2 + 3 * 64 * 192 + 2 * 64) + 64,
        4 * (4 * 128**2 + 3 * 128 * 352 + 2 * 128) + 128,
    )
    # Two points: the fitted line goes through both.
    fit = PowerLaw(report["fit"]["alpha"], report["fit"]["n_c"])
    for r in report["runs"]:
        assert fit.loss(r["non_embedding_parameters"]) == pytest.approx(r["valid_loss"])
        summary = json.loads((Path(r["dir"]) / "summary.json").read_text())
        assert r["valid_loss"] == summary["final_valid_loss"]
    written = json.loads((out / "scaling.json").read_text())
    assert written == report
    assert (written["paper"]["alpha"], written["paper"]["n_c"]) == (0.13, 5.92e7)
    assert written["config"]["tokens"] == 1024 and "preset" not in written["config"]
    assert (out / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Again, through the command: both runs are finished and reused, nothing is trained.
    argv = ["scaling", "--data", str(root / "data"), "--presets", "pico,nano", "--tokens",
            "1024", "--out", str(out), "--context", "32", "--batch-tokens", "256",
            "--micro-batch", "4", "--lr", "3e-3", "--warmup-steps", "2", "--eval-interval",
            "1000", "--eval-tokens", "512", "--dtype", "fp32", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["preset", "non-embedding", "N", "valid", "loss", "run"]
    assert [line.split()[0::3] for line in lines[1:3]] == [["pico", "reused"], ["nano", "reused"]]
    assert lines[3].startswith(f"fit: L(N) = (N_c / N)^alpha, alpha {fit.alpha:.4f}, ")
    assert lines[4] == f"wrote {out / 'scaling.json'}, {out / 'scaling.png'}"
    # A finished run with other settings is not silently reused.
    assert main([*argv[:-1], "--lr", "1e-3"]) == 2
    assert "holds a finished run with other settings (lr=0.003, asked 0.001)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("presets", "message"),
    [
        ("nano", "--presets needs at least two presets: one model size fits no law"),
        ("nano,huge", "unknown preset 'huge'; available: pico, nano, micro, "),
        ("pico,nano,pico", "--presets names pico more than once"),
    ],
)
def test_bad_presets(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], presets: str, message: str
) -> None:
    out = tmp_path / "runs"
    argv = ["scaling", "--data", str(root / "data"), "--presets", presets, "--tokens", "1k",
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"passk: error: {message}")
    with pytest.raises(InputError, match=message):
        scaling(config(root), presets.split(","), out)
    assert not out.exists()  # refused before any training


def test_no_validation_split(root: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    (data / "valid.bin").unlink()
    with pytest.raises(InputError, match=r"data: no valid\.bin to measure the loss on"):
        scaling(config(root, data=str(data)), ["pico", "nano"], tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
