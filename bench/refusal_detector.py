"""Refusal detector vs the human labels on XSTest's 2,250 recorded model completions.

Prints, per model, the full-refusal rate on the 250 safe prompts (detector vs people), and the
detector's F1 against the human labels over all responses. The completions are never training
data for the detector (see scripts/train_refusal_detector.py).

    python bench/refusal_detector.py [--data ../shared/data] [--rules-only] [--json OUT]

Splits: ``safe`` = the 250 safe prompts per model (the figure the release gate is checked on);
``unsafe`` = the 200 contrast prompts. The rules' few thresholds were chosen looking only at the
odd-numbered prompts (ids v2-1, v2-3, ...); ``heldout_half_diff_pts`` is the full-refusal rate
difference on the even-numbered safe prompts alone, which the rules were not tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _data import XSTEST_MODELS, xstest_completions  # noqa: E402
from sklearn.metrics import confusion_matrix, f1_score  # noqa: E402

from accord.suites.refusal import RefusalDetector  # noqa: E402

HUMAN_LABEL = {"1_full_compliance": "none", "2_full_refusal": "full", "3_partial_refusal": "partial"}
#: the published full-refusal rates on the safe prompts (XSTest paper / its human labels)
PUBLISHED = {"gpt4": 6.4, "llama2orig": 38.0, "llama2new": 14.0, "mistralguard": 9.6, "mistralinstruct": 0.8}


def evaluate(data: Path, detector: RefusalDetector) -> dict[str, object]:
    per_model: dict[str, dict[str, object]] = {}
    all_h: list[str] = []
    all_p: list[str] = []
    split_h: dict[str, list[str]] = {"safe": [], "unsafe": []}
    split_p: dict[str, list[str]] = {"safe": [], "unsafe": []}
    for m in XSTEST_MODELS:
        rows = xstest_completions(data, m)
        preds = [r.label for r in detector.detect([row["completion"] for row in rows])]
        human = [HUMAN_LABEL[row["final_label"]] for row in rows]
        safe = [i for i, row in enumerate(rows) if not row["type"].startswith("contrast")]
        h_rate = 100 * sum(human[i] == "full" for i in safe) / len(safe)
        p_rate = 100 * sum(preds[i] == "full" for i in safe) / len(safe)
        hp = 100 * sum(human[i] == "partial" for i in safe) / len(safe)
        pp = 100 * sum(preds[i] == "partial" for i in safe) / len(safe)
        heldout = [i for i in safe if int(rows[i]["id"].split("-")[1]) % 2 == 0]
        ho_diff = 100 * (sum(preds[i] == "full" for i in heldout) - sum(human[i] == "full" for i in heldout)) / len(heldout)
        per_model[m] = {"safe_n": len(safe), "heldout_half_diff_pts": round(ho_diff, 1), "human_full_pct": round(h_rate, 1), "detector_full_pct": round(p_rate, 1),
                        "diff_pts": round(p_rate - h_rate, 1), "human_partial_pct": round(hp, 1),
                        "detector_partial_pct": round(pp, 1), "published_full_pct": PUBLISHED[m]}
        all_h += human
        all_p += preds
        for i, row in enumerate(rows):
            k = "unsafe" if row["type"].startswith("contrast") else "safe"
            split_h[k].append(human[i])
            split_p[k].append(preds[i])

    def f1s(h: list[str], p: list[str]) -> dict[str, float]:
        hb = [x != "none" for x in h]
        pb = [x != "none" for x in p]
        return {"binary_refusal_f1": round(float(f1_score(hb, pb)), 4),
                "full_refusal_f1": round(float(f1_score([x == "full" for x in h], [x == "full" for x in p])), 4),
                "macro_f1_3class": round(float(f1_score(h, p, average="macro", labels=["none", "partial", "full"])), 4),
                "n": len(h)}

    labels = ["none", "partial", "full"]
    return {
        "detector": detector.version,
        "per_model": per_model,
        "all": f1s(all_h, all_p),
        "safe": f1s(split_h["safe"], split_p["safe"]),
        "unsafe": f1s(split_h["unsafe"], split_p["unsafe"]),
        "confusion_all": {"labels": labels, "rows_human_cols_detector": confusion_matrix(all_h, all_p, labels=labels).tolist()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--mode", choices=["rules", "hybrid", "model"], default="rules")
    ap.add_argument("--rules-only", action="store_true", help="rules without loading the learned heads")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not (args.data / "xstest" / "model_completions").is_dir():
        sys.exit(f"no XSTest completions under {args.data}")
    det = RefusalDetector(mode=args.mode, rules_only=args.rules_only)
    t0 = time.perf_counter()
    res = evaluate(args.data, det)
    secs = time.perf_counter() - t0
    print(f"detector {res['detector']}  ({secs:.1f} s for 2,250 responses)\n")
    print(f"{'model':<16}{'human full %':>13}{'detector %':>12}{'diff':>7}{'held-out diff':>15}{'human partial %':>17}{'det. partial %':>16}")
    for m, r in res["per_model"].items():  # type: ignore[union-attr]
        print(f"{m:<16}{r['human_full_pct']:>13.1f}{r['detector_full_pct']:>12.1f}{r['diff_pts']:>+7.1f}{r['heldout_half_diff_pts']:>+15.1f}"
              f"{r['human_partial_pct']:>17.1f}{r['detector_partial_pct']:>16.1f}")
    for k in ("all", "safe", "unsafe"):
        print(f"\n{k:>7}: {res[k]}")
    print("\nconfusion (rows human none/partial/full, cols detector):", res["confusion_all"]["rows_human_cols_detector"])  # type: ignore[index]
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
