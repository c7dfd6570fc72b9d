"""Loaders for the evaluation sets the benchmarks report on (read from ``../shared/data``)."""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
MODERATION_KEYS = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")
MODERATION_FILE = "openai-moderation/samples-1680.jsonl.gz"


def moderation_records(path: Path = DEFAULT_DATA / MODERATION_FILE) -> list[tuple[str, list[str]]]:
    """OpenAI moderation eval: each text with the categories flagged on it (a missing key is not flagged)."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            out.append((r["prompt"], [k for k in MODERATION_KEYS if r.get(k) == 1]))
    return out


def moderation(data: Path = DEFAULT_DATA) -> tuple[list[str], list[int]]:
    """OpenAI moderation eval: text, 1 if any category is flagged."""
    records = moderation_records(data / MODERATION_FILE)
    return [t for t, _ in records], [int(bool(flagged)) for _, flagged in records]


def xstest(data: Path = DEFAULT_DATA) -> tuple[list[str], list[int], list[str]]:
    """XSTest prompts: text, 1 if unsafe, type."""
    with open(data / "xstest/xstest_prompts.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["prompt"] for r in rows], [int(r["label"] == "unsafe") for r in rows], [r["type"] for r in rows]


#: the five models whose replies XSTest recorded, with two human annotations each
XSTEST_MODELS = ("gpt4", "llama2orig", "llama2new", "mistralguard", "mistralinstruct")


def xstest_completions(data: Path, model: str) -> list[dict[str, str]]:
    """One model's recorded XSTest replies: id, type, prompt, completion, the annotations, final_label."""
    with open(data / "xstest" / "model_completions" / f"xstest_v2_completions_{model}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def hh_rlhf(data: Path = DEFAULT_DATA) -> list[tuple[str, str, str]]:
    """HH-RLHF harmless-base test: (context before the last Assistant turn, chosen turn, rejected turn)."""
    out = []
    with gzip.open(data / "hh-rlhf/harmless-base/test.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            cc, ca = _split_last(r["chosen"])
            _, ra = _split_last(r["rejected"])  # both dialogues share the context before the last turn
            out.append((cc, ca, ra))
    return out


def _split_last(dialogue: str) -> tuple[str, str]:
    i = dialogue.rfind("\n\nAssistant:")
    ctx, last = dialogue[:i], dialogue[i + len("\n\nAssistant:"):]
    return re.sub(r"^\s+", "", ctx), last.strip()


def ordinary_instructions(data: Path = DEFAULT_DATA) -> list[str]:
    """Ordinary instructions that must not be flagged: refusal-direction ``harmless_test`` (Alpaca).

    CC-BY-NC-4.0: used here to *measure* over-flagging only, never to train or tune the model.
    """
    with open(data / "refusal-direction-splits/harmless_test.json", encoding="utf-8") as f:
        return [r["instruction"] for r in json.load(f)]


ETHICS_TASKS = ("commonsense", "justice", "deontology", "virtue", "utilitarianism")
#: examples per group for ETHICS's grouped exact-match metric (a group counts only if all are right)
ETHICS_GROUP = {"justice": 4, "deontology": 4, "virtue": 5}


def ethics(task: str, split: str, data: Path = DEFAULT_DATA) -> list[dict[str, str]]:
    """Rows of an ETHICS test split (``split`` is ``test`` or ``test_hard``), in file order.

    Utilitarianism has no header: each row becomes ``{"better": ..., "worse": ...}`` (the first
    scenario is the one people judged more pleasant).
    """
    prefix = {"commonsense": "cm", "utilitarianism": "util"}.get(task, task)
    path = data / "ethics" / task / f"{prefix}_{split}.csv"
    with open(path, newline="", encoding="utf-8") as f:
        if task == "utilitarianism":
            return [{"better": a, "worse": b} for a, b in csv.reader(f)]
        return list(csv.DictReader(f))
