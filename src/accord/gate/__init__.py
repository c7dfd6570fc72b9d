"""The gate: judges → pure policy → verdict."""

from accord.gate.gate import Blocked, Gate, guard
from accord.gate.policy import Outcome, decide

__all__ = ["Blocked", "Gate", "Outcome", "decide", "guard"]
