"""Calibrating an LLM judge's raw scores on labelled cases: temperature scaling or isotonic regression,
saved as JSON (never pickle), and the expected calibration error that measures them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.errors import InputError


class Calibration(BaseModel):
    """A monotone map from a judge's raw score to a calibrated P(unacceptable), fitted on labels.

    ``temperature``: ``sigmoid(a * logit(raw) + b)`` (temperature scaling with a bias);
    ``isotonic``: a step function through ``x`` → ``y`` (interpolated). Stored as JSON (never
    pickle) with what it was fitted for; a judge refuses a calibration fitted for another model,
    format or prompt.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    method: Literal["temperature", "isotonic"]
    a: float = 1.0
    b: float = 0.0
    x: list[float] = Field(default_factory=list)
    y: list[float] = Field(default_factory=list)
    model: str = ""
    format: str = ""
    prompt: str = ""
    n: int = 0
    metrics: dict[str, float] = Field(default_factory=dict)

    def __call__(self, raw: float) -> float:
        """The calibrated probability for one raw score."""
        r = min(max(float(raw), 0.0), 1.0)
        if self.method == "isotonic":
            return float(min(max(np.interp(r, self.x, self.y), 0.0), 1.0)) if self.x else r
        z = math.log(max(r, 1e-4) / max(1.0 - r, 1e-4))
        t = self.a * z + self.b
        return 1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t))

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON; returns the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration written by :meth:`save`; a missing or invalid file is an InputError."""
        p = Path(path)
        try:
            return cls.model_validate_json(p.read_text(encoding="utf-8"))
        except OSError as e:
            raise InputError(f"cannot read the llm calibration {p}: {e.strerror or e}") from None
        except ValidationError as e:
            err = e.errors()[0]
            raise InputError(f"{p} is not an llm calibration ({'.'.join(map(str, err['loc'])) or 'file'}: {err['msg']})") from None


def fit_calibration(raw: Sequence[float], labels: Sequence[int], method: Literal["temperature", "isotonic"] = "temperature",
                    *, model: str = "", format: str = "", prompt: str = "") -> Calibration:
    """Fit a :class:`Calibration` of raw scores to labels (1 = unacceptable) on labelled cases."""
    r = np.clip(np.asarray(raw, dtype=float), 0.0, 1.0)
    y = np.asarray(labels, dtype=int)
    if r.shape != y.shape or r.ndim != 1:
        raise InputError(f"calibration needs one label per score ({r.shape} scores, {y.shape} labels)")
    if len(set(y.tolist())) < 2:
        raise InputError("calibration needs both acceptable (0) and unacceptable (1) cases")
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(r, y)
        cal = Calibration(method="isotonic", x=[float(v) for v in iso.X_thresholds_],
                          y=[float(v) for v in iso.y_thresholds_], model=model, format=format, prompt=prompt, n=len(y))
    elif method == "temperature":
        from sklearn.linear_model import LogisticRegression

        z = np.log(np.maximum(r, 1e-4) / np.maximum(1.0 - r, 1e-4)).reshape(-1, 1)
        lr = LogisticRegression(C=1e4).fit(z, y)
        cal = Calibration(method="temperature", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]),
                          model=model, format=format, prompt=prompt, n=len(y))
    else:
        raise InputError(f"unknown calibration method {method!r}; use 'temperature' or 'isotonic'")
    p = np.array([cal(v) for v in r])
    return cal.model_copy(update={"metrics": {"ece_raw": expected_calibration_error(r, y),
                                               "ece_fitted": expected_calibration_error(p, y)}})


def expected_calibration_error(p: Sequence[float] | np.ndarray, y: Sequence[int] | np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the bin-weighted gap between mean probability and frequency (10 equal-width bins)."""
    pa = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    ya = np.asarray(y, dtype=float)
    if len(pa) == 0:
        return 0.0
    idx = np.minimum((pa * bins).astype(int), bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.mean() * abs(pa[m].mean() - ya[m].mean())
    return float(err)
