"""The review loop, measured: do reviews of escalated cases make the judge escalate less and agree more?

Simulated reviewers answer from human labels (OpenAI moderation eval: a text is unacceptable if
any category is flagged). The judge starts from a small model trained on the default charter's
examples only. Each round, a slice of incoming traffic goes through the real gate with
``escalation_recorder`` into a fresh audit store; reviewers take the next ``batch`` items from
the queue (ordered by uncertainty × severity, by expected model improvement, or at random) and
review them with ``store.add_review``; ``IncrementalLearner`` then ``partial_fit``s a new model
version from the reviews (the same code the web app runs). After every round the gate judges a
held-out test set that no reviewer saw, and we print:

* escalation rate: share of held-out cases the gate sends to people;
* agreement: share of held-out cases where the judge's leaning (P(unacceptable) ≥ 0.5) matches
  the human label; and F1 on "unacceptable".

Run: ``python bench/review_loop.py`` (about two to four minutes on two cores).
Options: ``--rounds 8 --batch 40 --test 500 --noise 0.0 --orders priority,active,random``.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from accord.charter import load_charter
from accord.gate import Gate
from accord.judges.value_model import ValueModel
from accord.learning.feedback import charter_examples
from accord.learning.metrics import binary_metrics
from accord.review import IncrementalLearner, QueueConfig, escalation_recorder, open_items
from accord.store import Store
from accord.types import Case

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data

ROOT = Path(__file__).resolve().parents[1]
DATA = _data.DEFAULT_DATA / _data.MODERATION_FILE
TAG = {"SH": "harm", "V": "harm", "V2": "harm", "HR": "harm", "S3": "harm", "H": "fairness", "H2": "fairness"}


def load(path: Path) -> list[tuple[str, int, str | None]]:
    """``(text, 1 if any category is flagged, principle tag)``."""
    return [(text, int(bool(flagged)), next((TAG[k] for k in flagged if k in TAG), None))
            for text, flagged in _data.moderation_records(path)]


def base_model(charter, folder: Path) -> Path:
    t = charter_examples(charter)
    m = ValueModel(charter.principle_ids, random_state=0).fit(t.cases, t.y, **t.fit_kwargs())
    # the Platt slope fitted on the charter's ~17 calibration examples can come out negative, which
    # inverts every later partial_fit; a neutral slope keeps the starting point honest (see docs/review.md)
    m.calibration_ = (1.0, 0.0)
    return m.save(folder / "base")


def evaluate(model: ValueModel, charter, test: list[tuple[str, int, str | None]]) -> dict[str, float]:
    gate = Gate(charter, judges=[model], model=model, precedents=0)
    cases = [Case(action=t) for t, _, _ in test]
    verdicts = gate.check_many(cases, record=False)
    y = np.array([lab for _, lab, _ in test])
    p = model.predict_proba(cases)[:, 1]
    m = binary_metrics(y, p)
    return {"escalation": float(np.mean([v.decision == "escalate" for v in verdicts])),
            "agreement": m.accuracy, "f1": m.f1}


def run(order: str, charter, base: Path, stream, test, rounds: int, batch: int, noise: float, seed: int,
        folder: Path) -> list[tuple[int, dict[str, float]]]:
    store = Store.open(f"sqlite:///{folder / f'{order}.db'}")
    learner = IncrementalLearner(store, charter, folder / f"models-{order}", every=batch, base_model_dir=base,
                                 actor="bench")
    truth = {t: (lab, tag) for t, lab, tag in stream}
    rng = random.Random(seed)
    model = ValueModel.load(base)
    curve = [(0, evaluate(model, charter, test))]
    chunks = np.array_split(np.arange(len(stream)), rounds)
    cfg = QueueConfig(double_share=0.0, order=order, seed=seed)  # type: ignore[arg-type]
    reviewed = 0
    for r in range(rounds):
        gate = Gate(charter, judges=[model], model=model, precedents=0, recorder=escalation_recorder(store, "bench"))
        gate.check_many([Case(action=stream[i][0]) for i in chunks[r]])
        todo = open_items(store, cfg, reviewer="sim", model=model if order == "active" else None, limit=batch)
        for it in todo:
            lab, tag = truth[it.case.action_text]
            if rng.random() < noise:
                lab = 1 - lab
            store.add_review(it.id, "sim", "block" if lab else "allow", principles=[tag] if (lab and tag) else [])
        reviewed += len(todo)
        res = learner.maybe_update(force=True)
        if res is not None and res.promoted and res.model is not None:
            model = res.model
        curve.append((reviewed, evaluate(model, charter, test)))
    store.close()
    return curve


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--batch", type=int, default=40)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--noise", type=float, default=0.0, help="share of simulated reviews that are flipped")
    ap.add_argument("--orders", default="priority,active,random")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not a.data.exists():
        print(f"missing {a.data}", file=sys.stderr)
        return 2
    rows = load(a.data)
    random.Random(a.seed).shuffle(rows)
    test, stream = rows[: a.test], rows[a.test:]
    charter = load_charter(None)
    print(f"OpenAI moderation eval: {len(stream)} incoming cases in {a.rounds} rounds, {len(test)} held out "
          f"({sum(lab for _, lab, _ in test)} unacceptable); {a.batch} reviews per round; noise {a.noise:.0%}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = base_model(charter, folder)
        curves = {}
        for order in a.orders.split(","):
            t1 = time.perf_counter()
            curves[order] = run(order, charter, base, stream, test, a.rounds, a.batch, a.noise, a.seed, folder)
            print(f"  {order}: {time.perf_counter() - t1:.0f} s", file=sys.stderr)
    names = {"priority": "uncertainty × severity", "active": "expected improvement", "random": "random"}
    for metric, label in (("escalation", "escalation rate on held-out cases (lower is better)"),
                          ("agreement", "agreement with held-out human labels (higher is better)"),
                          ("f1", "F1 on unacceptable, held out (higher is better)")):
        print(f"\n{label}")
        print("reviews | " + " | ".join(f"{names.get(o, o):>22}" for o in curves))
        first = next(iter(curves.values()))
        for i, (n, _) in enumerate(first):
            print(f"{n:7d} | " + " | ".join(f"{curves[o][i][1][metric]:22.3f}" for o in curves))
    base_rate = 1 - sum(lab for _, lab, _ in test) / len(test)
    print(f"\nfor scale: answering 'acceptable' to everything agrees {base_rate:.3f}; the same encoder trained "
          f"from scratch on {a.rounds * a.batch} randomly drawn labels reaches about 0.74 (see docs/review.md)")
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
