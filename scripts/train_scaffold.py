"""Train the scaffold classifier that :func:`accord.learning.context.focus` uses to set deployment
text aside, and write it to ``src/accord/data/scaffold/``.

Scaffolding (positives): the segments (lines and sentences) of deployment text written for accord:
``corpus/deployment/pool1.json`` and ``pool2.json`` (two helper sessions that saw neither the
corpus, the code nor the evaluation's text; openings such as a system prompt's persona and style
rules, endings such as tool catalogues, output formats, dates and ids), each repeated twice, and
the template pieces of ``scripts/deployment_text.py``. Situations (negatives): the segments of the
corpus's contexts (``corpus/cases.jsonl``: short situations and long agent logs). The evaluation's
deployment text (``bench/judgment_dev/deployment.json``) is never read here.

The network is one hidden layer of 128 ReLU units over the segment's WordLlama embedding and six
shape features (:func:`accord.learning.context.scaffold_features`); it runs in numpy.

Run from the repository root (about a minute on two cores)::

    python scripts/train_scaffold.py [--out src/accord/data/scaffold]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

import deployment_text  # noqa: E402

from accord.learning.context import (  # noqa: E402
    ENCODER,
    SCAFFOLD_DIR,
    SCAFFOLD_FORMAT,
    scaffold_features,
    segments,
)
from accord.learning.encoders import get_encoder  # noqa: E402

POOLS = sorted((ROOT / "corpus" / "deployment").glob("pool*.json"))
POOL_REPEAT = 2  # the hand-written pools count twice: the templates are many but alike
TEMPLATE_DRAWS = 3000


def _segs(texts: list[str]) -> set[str]:
    return {s.strip() for t in texts for s in segments(t) if s.strip()}


def training_texts(seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """(pool segments, template segments, situation segments), each sorted and without repeats."""
    pool: set[str] = set()
    for p in POOLS:
        d = json.loads(p.read_text(encoding="utf-8"))
        pool |= _segs(d["openings"] + d["endings"])
    rng = random.Random(seed)
    templ = _segs([t for _ in range(TEMPLATE_DRAWS) for t in (deployment_text.preamble(rng), deployment_text.appendix(rng))])
    situ: set[str] = set()
    with (ROOT / "corpus" / "cases.jsonl").open(encoding="utf-8") as f:
        for line in f:
            ctx = json.loads(line).get("context") or ""
            if isinstance(ctx, list):
                ctx = "\n".join(m["content"] for m in ctx)
            situ |= _segs([ctx])
    situ -= pool | templ  # a segment in both is not evidence either way
    return sorted(pool), sorted(templ - pool), sorted(situ - templ)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=SCAFFOLD_DIR)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args(argv)

    pool, templ, situ = training_texts(args.seed)
    print(f"scaffold segments: {len(pool)} hand-written (x{POOL_REPEAT}), {len(templ)} templated; situation segments: {len(situ)}")
    texts = pool * POOL_REPEAT + templ + situ
    y = np.r_[np.ones(len(pool) * POOL_REPEAT + len(templ)), np.zeros(len(situ))]
    X = scaffold_features(get_encoder(ENCODER).encode(texts), texts)
    # a tenth held out (by text) for the printed check, then the final fit on everything
    rng = np.random.default_rng(args.seed)
    uniq = sorted(set(texts))
    held = {uniq[i] for i in rng.choice(len(uniq), len(uniq) // 10, replace=False)}
    test = np.array([t in held for t in texts])
    clf = MLPClassifier((args.hidden,), alpha=1e-3, max_iter=300, random_state=args.seed)
    clf.fit(X[~test], y[~test])
    p = clf.predict_proba(X[test])[:, 1]
    caught, dropped = float((p[y[test] == 1] >= 0.5).mean()), float((p[y[test] == 0] >= 0.5).mean())
    print(f"held-out tenth: scaffolding caught {caught:.1%}, situation segments set aside {dropped:.2%}")
    clf = MLPClassifier((args.hidden,), alpha=1e-3, max_iter=300, random_state=args.seed).fit(X, y)

    arrays = {"W1": clf.coefs_[0].astype(np.float32), "b1": clf.intercepts_[0].astype(np.float32),
              "W2": clf.coefs_[1].astype(np.float32), "b2": clf.intercepts_[1].astype(np.float32)}
    digest = hashlib.sha256(b"".join(a.tobytes() for a in arrays.values())).hexdigest()[:10]
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "scaffold.npz", **arrays)
    meta = {"format": SCAFFOLD_FORMAT, "version": f"scaffold-{digest}", "encoder": ENCODER, "hidden": args.hidden,
            "seed": args.seed, "trained": dt.date.today().isoformat(),
            "training_data": {"hand-written scaffolding segments": len(pool), "repeat": POOL_REPEAT,
                              "templated scaffolding segments": len(templ), "corpus situation segments": len(situ)},
            "held_out_tenth": {"scaffolding caught": round(caught, 4), "situation set aside": round(dropped, 4)},
            "never_trained_on": "bench/judgment_dev/deployment.json (the evaluation's deployment text)",
            "script": "scripts/train_scaffold.py"}
    (args.out / "scaffold.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({meta['version']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
