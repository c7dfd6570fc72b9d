"""Explanations: why the gate decided, in words, evidence, precedents and a counterfactual."""

from accord.explain.build import build_explanation
from accord.explain.render import render_verdict

__all__ = ["build_explanation", "render_verdict"]
