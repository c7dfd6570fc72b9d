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


LLMBAR_FILES = ("Natural", "Adversarial_GPTInst", "Adversarial_GPTOut", "Adversarial_Manual", "Adversarial_Neighbor")


def llmbar_instructions(data: Path = DEFAULT_DATA) -> list[str]:
    """LLMBar's instructions (MIT), each once: ordinary tasks a gate must let through (some read
    like commands: "Write a poem", "Rewrite this"). Measurement only."""
    seen: dict[str, None] = {}
    for name in LLMBAR_FILES:
        with open(data / "llmbar" / f"{name}.json", encoding="utf-8") as f:
            seen.update((r["input"], None) for r in json.load(f))
    return list(seen)


def malicious_instruct(data: Path = DEFAULT_DATA) -> list[str]:
    """MaliciousInstruct's 100 harmful questions (no licence declared): measurement only."""
    lines = (data / "malicious-instruct" / "MaliciousInstruct.txt").read_text(encoding="utf-8").splitlines()
    return [x.strip() for x in lines if x.strip()]


def do_not_answer(data: Path = DEFAULT_DATA) -> list[str]:
    """Do-Not-Answer's 939 questions a responsible assistant declines (treated as CC-BY-NC-SA-4.0):
    measurement only, never trained on."""
    with open(data / "do-not-answer" / "do_not_answer_en.csv", newline="", encoding="utf-8") as f:
        return [r["question"] for r in csv.DictReader(f)]


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
