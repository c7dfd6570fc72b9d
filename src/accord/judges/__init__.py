"""Judges behind one protocol and an explicit registry: rules, the value model, cascades."""

from accord.judges.base import Judge, get_judge, judge_names, register_judge
from accord.judges.cascade import Cascade
from accord.judges.decision import DecisionJudge
from accord.judges.rules import RuleJudge
from accord.judges.value_model import Pairs, ValueModel

__all__ = ["Cascade", "DecisionJudge", "Judge", "Pairs", "RuleJudge", "ValueModel", "get_judge", "judge_names", "register_judge"]
