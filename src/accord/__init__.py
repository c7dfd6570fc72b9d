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

from typing import TYPE_CHECKING

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

__version__ = "0.1.0"


#: names imported on first use: the gate and the judges pull in numpy, scikit-learn and the
#: models' code (seconds), the charter and the types their pydantic models (half a second),
#: which ``import accord.errors`` or ``accord --help`` does not need
_LAZY = {**dict.fromkeys(['SCHEMA_VERSION', 'Case', 'Demonstration', 'Explanation', 'Label', 'Message', 'Precedent', 'Preference', 'PrincipleResult', 'Score', 'ToolCall', 'Verdict'], "accord.types"),
         "Charter": "accord.charter", "Principle": "accord.charter", "Rule": "accord.charter",
         "load_charter": "accord.charter", "Blocked": "accord.gate", "Gate": "accord.gate", "guard": "accord.gate", "Cascade": "accord.judges",
         "Judge": "accord.judges", "RuleJudge": "accord.judges", "ValueModel": "accord.judges",
         "get_judge": "accord.judges", "register_judge": "accord.judges", "NotFittedError": "accord.errors"}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # for type checkers and IDEs, the names are plain imports
    from accord.charter import Charter, Principle, Rule, load_charter
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
