"""accord: keep AI systems following human values.

The loop: a **charter** (values written down) → **judges** (rules, a learned value model, a
cascade) → the **gate** (allow / revise / block / escalate, failing closed) → a **verdict** with
its explanation → the **audit store** → human **review** → **value learning** → a better judge.

Typical use::

    import accord
    gate = accord.Gate.default()
    verdict = gate.check(context="Cut traffic deaths to zero", action="Ban all private cars")
    print(verdict.decision, verdict.explanation.summary)
"""

from accord.charter import Charter, Principle, Rule, load_charter
from accord.errors import (
    AccordError,
    CharterError,
    FeedbackError,
    InputError,
    JudgeError,
    JudgeTimeout,
    ModelError,
    RegistryError,
    StoreError,
)
from accord.gate import Blocked, Gate, guard
from accord.judges import Cascade, Judge, RuleJudge, ValueModel, get_judge, register_judge
from accord.types import (
    SCHEMA_VERSION,
    Case,
    Demonstration,
    Explanation,
    Label,
    Message,
    Precedent,
    Preference,
    PrincipleResult,
    Score,
    ToolCall,
    Verdict,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    if name == "NotFittedError":  # imports scikit-learn, so only on first use
        from accord import errors

        return errors.NotFittedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SCHEMA_VERSION",
    "AccordError",
    "Blocked",
    "Cascade",
    "Case",
    "Charter",
    "CharterError",
    "Demonstration",
    "Explanation",
    "FeedbackError",
    "Gate",
    "InputError",
    "Judge",
    "JudgeError",
    "JudgeTimeout",
    "Label",
    "Message",
    "ModelError",
    "NotFittedError",
    "Precedent",
    "Preference",
    "Principle",
    "PrincipleResult",
    "RegistryError",
    "Rule",
    "RuleJudge",
    "Score",
    "StoreError",
    "ToolCall",
    "ValueModel",
    "Verdict",
    "__version__",
    "get_judge",
    "guard",
    "load_charter",
    "register_judge",
]
