"""Reading JSONL: every error names the file and the line, and says what each line must be."""

from __future__ import annotations

import json

from accord.errors import FeedbackError, InputError


def parse_jsonl(text: str, name: str, what: str = "record",
                error: type[InputError] = FeedbackError) -> list[tuple[int, dict]]:
    """``(line number, object)`` for every non-blank line of JSONL ``text``; ``error`` names ``name`` and the line."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise error(f"{name}:{n}: not valid JSON ({e.msg} at column {e.colno})",
                        hint=f"each line must be one JSON {what}") from None
        if not isinstance(obj, dict):
            raise error(f"{name}:{n}: expected a JSON object, got {type(obj).__name__}",
                        hint=f"each line must be one JSON {what}")
        out.append((n, obj))
    return out
