"""Advice on a valid charter: what will work but is probably not what the team meant."""

from __future__ import annotations

from accord.charter.model import Charter


def lint_charter(charter: Charter) -> list[str]:
    """Warnings for a charter that validated; an empty list means nothing to say."""
    warnings: list[str] = []
    ruled = {r.principle for r in charter.rules}
    for p in charter.principles:
        ex = p.examples
        if not ex.violates and not ex.upholds and p.id not in ruled:
            warnings.append(f"principles.{p.id}: no examples and no rules; the judge can only learn it from feedback")
        elif len(ex.violates) < 2:
            warnings.append(f"principles.{p.id}: fewer than 2 'violates' examples; add some so the model learns it")
        if len(ex.upholds) < 1:
            warnings.append(f"principles.{p.id}: no 'upholds' examples; the model may over-flag near misses")
    for r in charter.rules:
        if r.decision == "allow":
            warnings.append(f"rules.{r.id}: an 'allow' rule skips the value model for what it matches; be sure")
    for name, c in charter.communities.items():
        if not c.weights and not c.thresholds:
            warnings.append(f"communities.{name}: no weights or thresholds; it decides like the default")
    return warnings
