"""Assemble accord's judgment corpus and its dev set from the authors' files, cleaned.

Reads ``corpus/parts/*.jsonl`` (the corpus authors) and ``bench/judgment_dev/dev*.jsonl`` (the dev
set's authors, who never saw the corpus), checks every line, and writes:

* ``corpus/cases.jsonl``: the corpus, normalised-exact and near-duplicates (joint-embedding cosine
  >= 0.95) removed;
* ``bench/judgment_dev/dev.jsonl``: the dev set, its own duplicates removed and every case that is
  a near-duplicate (cosine >= 0.90) of a corpus case dropped, so the dev set measures
  generalisation, not recall;
* a summary printed per kind and domain (``corpus/DATACARD.md`` quotes it).

Exit 2 with the file and line of the first malformed record.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from accord.learning.decision import KINDS, Featurizer  # noqa: E402
from accord.types import Case  # noqa: E402

KEYS = {"id", "domain", "kind", "decision", "principle", "context", "action", "why", "communities", "pair"}
PRINCIPLES = {"harm", "honesty", "privacy", "fairness", "autonomy", "legality", "wellbeing", "safety_oversight",
              "helpfulness"}


def read(paths: list[Path]) -> list[dict]:
    out = []
    for p in paths:
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{p}:{n}: not JSON ({e.msg}); skipped", file=sys.stderr)
                continue
            problems = []
            if set(r) != KEYS:
                problems.append(f"keys {sorted(set(r) ^ KEYS)}")
            if r.get("kind") not in KINDS:
                problems.append(f"kind {r.get('kind')!r}")
            elif r.get("decision") != KINDS[r["kind"]]:
                problems.append(f"decision {r.get('decision')!r} for kind {r['kind']}")
            if r.get("principle") not in PRINCIPLES:
                problems.append(f"principle {r.get('principle')!r}")
            try:
                case = Case.model_validate({"context": r.get("context") or "", "action": r.get("action")})
            except Exception as e:
                problems.append(f"action/context: {str(e).splitlines()[0]}")
                case = None
            if problems:
                print(f"{p}:{n}: {'; '.join(problems)}; skipped", file=sys.stderr)
                continue
            r["_case"], r["_src"] = case, f"{p.name}:{n}"
            out.append(r)
    return out


def dedupe(rows: list[dict], f: Featurizer, threshold: float) -> tuple[list[dict], np.ndarray]:
    seen, keep = set(), []
    for r in rows:
        k = (" ".join(r["_case"].context_text.lower().split()), " ".join(r["_case"].action_text.lower().split()))
        if k not in seen:
            seen.add(k)
            keep.append(r)
    J = f.joint([r["_case"] for r in keep])
    drop = set()
    sims = J @ J.T
    for i in range(len(keep)):
        if i in drop:
            continue
        for j in np.flatnonzero(sims[i, i + 1:] >= threshold) + i + 1:
            drop.add(int(j))
    idx = [i for i in range(len(keep)) if i not in drop]
    return [keep[i] for i in idx], J[idx]


def write(rows: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({k: r[k] for k in sorted(KEYS)}, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--near", type=float, default=0.95, help="cosine from which two corpus cases are duplicates")
    ap.add_argument("--dev-near", type=float, default=0.90, help="cosine from which a dev case is too close to the corpus")
    args = ap.parse_args(argv)
    f = Featurizer()
    corpus = read(sorted((ROOT / "corpus" / "parts").glob("*.jsonl")))
    dev = read(sorted((ROOT / "bench" / "judgment_dev").glob("dev[0-9]*.jsonl")))
    corpus, CJ = dedupe(corpus, f, args.near)
    dev, DJ = dedupe(dev, f, args.near)
    close = (DJ @ CJ.T).max(axis=1) if len(CJ) and len(DJ) else np.zeros(len(DJ))
    dev = [r for r, s in zip(dev, close, strict=True) if s < args.dev_near]
    write(corpus, ROOT / "corpus" / "cases.jsonl")
    write(dev, ROOT / "bench" / "judgment_dev" / "dev.jsonl")
    for name, rows in (("corpus", corpus), ("dev", dev)):
        kinds = Counter(r["kind"] for r in rows)
        doms = Counter(r["domain"] for r in rows)
        tools = sum(1 for r in rows if isinstance(r["action"], dict))
        pairs = Counter(r["pair"] for r in rows if r["pair"])
        in_pairs = sum(c for c in pairs.values() if c >= 2)
        print(f"{name}: {len(rows)} cases, {len(doms)} domains, {tools} tool calls, {in_pairs} in minimal pairs")
        print("  kinds: " + ", ".join(f"{k} {kinds[k]}" for k in KINDS))
    print(f"dev cases dropped as near-duplicates of the corpus (cosine >= {args.dev_near}): {int((close >= args.dev_near).sum())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
