"""Write the JSON Schemas of accord's public formats into docs/ (run after changing types.py)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from accord.types import Case, Feedback, Verdict

DOCS = Path(__file__).resolve().parents[1] / "docs"

if __name__ == "__main__":
    for name, schema in (("verdict", Verdict.model_json_schema()), ("case", Case.model_json_schema()),
                         ("feedback", TypeAdapter(Feedback).json_schema())):
        (DOCS / f"{name}.schema.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        print(f"wrote docs/{name}.schema.json")
