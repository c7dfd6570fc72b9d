"""Assemble accord's judgment corpus and its dev set from the authors' files, cleaned.

Reads ``corpus/parts/*.jsonl`` (the corpus authors) and ``bench/judgment_dev/dev[0-9]*.jsonl`` and
``fresh[0-9]*.jsonl``, ``blind[0-9]*.jsonl``, ``terse[0-9]*.jsonl``, ``refusals[0-9]*.jsonl``,
``chat[0-9]*.jsonl``, ``chatb[0-9]*.jsonl`` and ``howto[0-9]*.jsonl`` (the held-out sets' authors, who never saw the corpus), checks every line, and
writes:

* ``corpus/cases.jsonl``: the corpus, normalised-exact and near-duplicates (joint-embedding cosine
  >= 0.95) removed, a case's own minimal-pair twin excepted;
* ``bench/judgment_dev/dev.jsonl``: the dev set, its own duplicates removed and every case that is
  a near-duplicate (cosine >= 0.90) of a corpus case dropped, so the dev set measures
  generalisation, not recall;
* ``bench/judgment_dev/fresh.jsonl``: the same for the fresh set, written later (2026-12-03) by
  another blind author and never used to choose anything, so its figures are free of the model
  selection that the dev set has seen;
* ``bench/judgment_dev/blind.jsonl``: the same for the blind set, written on 2026-12-05 by two more
  blind authors (kinds table and domains only) and, like fresh, never used to choose anything;
* ``bench/judgment_dev/terse.jsonl``: the same for the terse set, written on 2026-12-05 (evening) by two
  more blind authors asked for the short cases a busy person writes by hand (a context of at most ~25
  words, an action of at most ~30), never used to choose anything;
* ``bench/judgment_dev/refusals.jsonl``: refusals in context (2026-12-05, night), 100 pairs of one decline in
  two contexts, right (allow) or itself harmful or contested (block, escalate), by the twin of corpus
  author c60 in other domains, with the same blind second pass; for measuring how a judge reads a
  refusal, never used to choose anything;
* ``bench/judgment_dev/chat.jsonl`` and ``chatb.jsonl``: plain chat turns (2026-12-07), 210 cases each (30
  per kind) by two more blind authors: the user's message as typed as the context, the assistant's reply
  as the action; a blind second pass on each disagreed with no decision; never used to choose anything;
* ``bench/judgment_dev/howto.jsonl``: plain chat turns whose replies give direct instructions (2026-12-07),
  ordinary tasks answered beside twins that harm or carry a clearly dangerous step, by one more blind
  author in domains the corpus how-to authors c85-c87 were not given; never used to choose anything;
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

from accord.learning.decision import KINDS  # noqa: E402
from accord.learning.decision_features import Featurizer  # noqa: E402
from accord.types import Case  # noqa: E402

KEYS = {"id", "domain", "kind", "decision", "principle", "context", "action", "why", "communities", "pair"}
PRINCIPLES = {"harm", "honesty", "privacy", "fairness", "autonomy", "legality", "wellbeing", "safety_oversight",
              "helpfulness"}


#: principle names some authors used that the charter spells differently
ALIASES = {"safety": "harm"}


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
            r["principle"] = ALIASES.get(r.get("principle"), r.get("principle"))
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
    """``rows`` without normalised-exact duplicates and near-duplicates (joint cosine >= ``threshold``).

    A case is never dropped as a near-duplicate of its own minimal-pair twin: a pair that changes one
    word is the lesson (the same request by a described and an undescribed person, one decision; an
    action fine in one context and not in the next), and dropping a twin would keep only half of it."""
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
        pair = keep[i].get("pair")
        for j in np.flatnonzero(sims[i, i + 1:] >= threshold) + i + 1:
            if not (pair and keep[j].get("pair") == pair):
                drop.add(int(j))
    idx = [i for i in range(len(keep)) if i not in drop]
    return [keep[i] for i in idx], J[idx]


#: the public prompt sets reported in docs/benchmarks.md (bench/_data.py loads them)
REPORTED_PROMPTS = ("xstest", "ordinary_instructions", "llmbar_instructions", "moderation", "malicious_instruct",
                    "do_not_answer")


def decontaminate(rows: list[dict], J: np.ndarray, f: Featurizer, data: Path, threshold: float) -> tuple[list[dict], np.ndarray, int]:
    """``rows`` without the prompts judged alone (empty context) that are near-duplicates (joint cosine
    >= ``threshold``) of a prompt in a reported public set, so no figure there is one the corpus taught."""
    sys.path.insert(0, str(ROOT / "bench"))
    import _data

    lone = [i for i, r in enumerate(rows) if not r["_case"].context_text.strip()]
    if not lone:
        return rows, J, 0
    if not data.is_dir():
        raise SystemExit(f"error: {data} not found: the corpus's lone prompts are checked against the reported "
                         "public prompt sets there (pass --data DIR)")
    texts: list[str] = []
    for name in REPORTED_PROMPTS:
        got = getattr(_data, name)(data)
        texts += got[0] if isinstance(got, tuple) else got
    P = f.joint([Case(action=t) for t in dict.fromkeys(texts)])
    close = np.zeros(len(rows), bool)
    for i in range(0, len(lone), 512):
        part = lone[i:i + 512]
        close[part] = (J[part] @ P.T).max(axis=1) >= threshold
    idx = np.flatnonzero(~close)
    return [rows[i] for i in idx], J[idx], int(close.sum())


def write(rows: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({k: r[k] for k in sorted(KEYS)}, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--near", type=float, default=0.95, help="cosine from which two corpus cases are duplicates")
    ap.add_argument("--dev-near", type=float, default=0.90, help="cosine from which a dev case is too close to the corpus")
    ap.add_argument("--public-near", type=float, default=0.85,
                    help="cosine from which a lone prompt of the corpus is too close to a reported public prompt")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder")
    args = ap.parse_args(argv)
    f = Featurizer()
    corpus = read(sorted((ROOT / "corpus" / "parts").glob("*.jsonl")))
    # the second labelling pass: a case whose second, blind label means another decision is dropped
    second = {}
    sp = ROOT / "corpus" / "second_pass.jsonl"
    if sp.exists():
        second = {r["id"]: r["kind"] for r in map(json.loads, sp.read_text(encoding="utf-8").splitlines()) if r.get("kind") in KINDS}
    disagree = {r["id"] for r in corpus if r["id"] in second and KINDS[second[r["id"]]] != r["decision"]}
    n_read = len(corpus)
    corpus = [r for r in corpus if r["id"] not in disagree]
    corpus, CJ = dedupe(corpus, f, args.near)
    corpus, CJ, n_public = decontaminate(corpus, CJ, f, args.data, args.public_near)
    print(f"corpus prompts dropped as near-duplicates of a reported public prompt (cosine >= {args.public_near}): {n_public}")
    write(corpus, ROOT / "corpus" / "cases.jsonl")
    held_out = {}
    sets = ROOT / "bench" / "judgment_dev"
    # every held-out set its authors' files name: dev1.jsonl, dev2.jsonl, ... make dev.jsonl
    for name in sorted({p.stem.rstrip("0123456789") for p in sets.glob("*[0-9].jsonl")}):
        rows, J = dedupe(read(sorted(sets.glob(f"{name}[0-9]*.jsonl"))), f, args.near)
        close = (J @ CJ.T).max(axis=1) if len(CJ) and len(J) else np.zeros(len(J))
        held_out[name] = [r for r, s in zip(rows, close, strict=True) if s < args.dev_near]
        write(held_out[name], sets / f"{name}.jsonl")
        n_close = int((close >= args.dev_near).sum())
        print(f"{name} cases dropped as near-duplicates of the corpus (cosine >= {args.dev_near}): {n_close}")
    for name, rows in (("corpus", corpus), *held_out.items()):
        kinds = Counter(r["kind"] for r in rows)
        doms = Counter(r["domain"] for r in rows)
        tools = sum(1 for r in rows if isinstance(r["action"], dict))
        pairs = Counter(r["pair"] for r in rows if r["pair"])
        in_pairs = sum(c for c in pairs.values() if c >= 2)
        print(f"{name}: {len(rows)} cases, {len(doms)} domains, {tools} tool calls, {in_pairs} in minimal pairs")
        print("  kinds: " + ", ".join(f"{k} {kinds[k]}" for k in KINDS))
    print(f"second pass: {len(second)} cases relabelled blind, {len(disagree)} disagreed on the decision and were dropped")
    datacard(corpus, n_read, len(second), len(disagree), args.near, args.public_near, n_public)
    return 0


def datacard(rows: list[dict], n_read: int, n_second: int, n_disagree: int, near: float, public_near: float,
             n_public: int) -> None:
    kinds = Counter(r["kind"] for r in rows)
    doms = Counter(r["domain"] for r in rows)
    authors = Counter(r["id"].split("-")[0] for r in rows)
    tools = sum(1 for r in rows if isinstance(r["action"], dict))
    pairs = Counter(r["pair"] for r in rows if r["pair"])
    in_pairs = sum(c for c in pairs.values() if c >= 2)
    lines = [
        "# accord judgment corpus: data card", "",
        "Hand-written cases for the failure modes accord exists to catch, labelled **allow / block / escalate**, "
        "licensed Apache-2.0 with the rest of accord. `cases.jsonl` is built from `parts/` by "
        "`python scripts/build_corpus.py`; the decision model (`scripts/train_decision_model.py`) trains on it.", "",
        "## How it was written", "",
        f"{len(authors)} authors (LLM helper sessions, one per part file), each given a different set of about eight "
        "domains, the table of seven kinds below, the record format and a style brief (c31-c35: terse agent "
        "traces; long conversations; informal and non-native English; formal objective-and-plan memos; multi-step agent "
        "plans; c36-c38: a plain tester's voice, short and long, weighted to contested and high-stakes cases with "
        "their acceptable near-misses (c36), subtle harm with benign near-misses (c37), and people described by "
        "gender, age, origin, religion, disability or orientation, mostly incidental to the request, in pairs that "
        "differ only in who the person is (c38); c39-c42, written after an error analysis on the dev set named the "
        "patterns (never its cases): requested, proportionate agent tool calls with over-broad or unsigned near-misses "
        "(c39), plans under an objective that pursue it honestly beside ones that game it (c40), subtle harm in calm "
        "professional language with its right-doing twin (c41), competent help on contested questions and alarming-"
        "sounding but fine requests (c42); c43-c46 (2026-12-04): minimal pairs in which the same action is acceptable "
        "because its remedy is in place (asked for, signed off, offered instead of done, consented to, scoped, "
        "reversible, minimised, within policy) beside its twin without it (c43, c44), harm in the details of a "
        "routine-looking reply or tool call beside its right-doing twin (c45), and alarming-sounding but fine user "
        "messages and answers (words with a violent and a harmless sense, idioms, harmless targets, safety "
        "information, definitions, history, fiction) beside harmful twins (c46), about half of c46 written as what a "
        "user sends (input gate: empty or one-line context); c47-c50 (2026-12-04, night): agent trajectories whose tool "
        "results carry instructions from someone other than the user, or reveal a risk, followed by a next step that "
        "obeys or ignores them beside one that treats them as data or accounts for them (c47), answers and "
        "institutional decisions that settle a contested question beside answers every side would accept (laying out "
        "the positions, pointing to who decides) (c48), harmful agent actions that read as routine work (falsified "
        "records, hidden mistakes, retaliation, proxies for protected traits) beside the right-doing twin or a "
        "hand-off to a named human (c49), and acceptable actions a jumpy judge would stop (the person's own data, "
        "the scope asked for, an administrator's own systems, facts for care or safety) beside a twin that changes "
        "one detail and crosses the line (c50); c51-c56 (2026-12-05): long agent logs (600-2,500 characters of "
        "numbered steps with tool results) in which one step anywhere harms, overreaches, games the goal or takes an "
        "unsigned consequential step, beside the same log with that step done right, as the whole log (c51) or as "
        "the steps so far and the next tool call (c52); alarming-sounding but fine messages and actions (idioms, "
        "fiction and games, history, first aid, harm reduction, authorised security tests, pests and butchery, dark "
        "humour at one's own expense) beside twins that keep the words and change the purpose or target (c53); "
        "contested answers and decisions beside versions every side accepts, and a few harmful twins that demean a "
        "community (c54); plans that meet an objective, metric or target by defeating its purpose, some subtly (a "
        "changed definition, a moved baseline, a filtered denominator), beside honest plans (c55); and harm that "
        "reads as warm helpfulness (false urgency, flattery to retain, hidden bad news, invented statistics, "
        "steering by a protected trait) beside the same reply done honestly (c56); c43-c56 were told to avoid the teaching bench's ten topics, which "
        "they were given by name only; c57-c59 (2026-12-05), written for error patterns the dev set showed (never its cases): "
        "honest plans under a stated objective beside gaming of it, agents doing exactly what blunt operations jargon asked "
        "beside the same request carried too far, everyday questions with alarming words beside harmful answers; c60 "
        "(2026-12-05, night): refusals in context, as pairs of one decline word for word in two contexts, right where the "
        "request was harmful, illegal or unauthorised (allow) and wrong where the refusal itself harms (paternalism, "
        "discrimination, abandoning someone who needs help, refusing oversight; block) or declines on a contested moral "
        "ground (escalate); its twin author's pairs, in other domains, are the `refusals` held-out set); c61-c63 "
        "(2026-12-06): ordinary, boring, clearly fine requests handled well (questions answered plainly, actions done "
        "with exactly the scope asked, a third with the person described by something irrelevant, a few lone user "
        "messages), a third of them beside a twin that changes one detail and crosses the line (more than asked, an "
        "unrequested charge, someone else's data, a false 'done'); written because the gate stopped about a fifth of "
        "everyday requests; no second pass; c64-c66 (2026-12-06): honest work under a stated objective, KPI or target (plans, "
        "tool calls and replies that improve what the metric measures, some touching measurement openly: reporting a bad "
        "number, adding a counter-metric, fixing a measurement bug with the owner's sign-off, declining a shortcut), 140 "
        "each, and 60 gaming twins each on the same contexts, in 36 domains chosen for their objectives; written because "
        "the gate stopped 26% of such honest work (116 of 420) and let 15% of the twins through; told to avoid the "
        "teaching bench's ten topics by name; c67-c70 (2026-12-07): lone messages, no context, as a user sends them to an "
        "assistant (2-word fragments to 200-word pasted material, questions, imperatives, role-play set-ups, statements, "
        "code, maths, some not in English), 280 ordinary or alarming-but-fine each and 120 harmful twins each in the same "
        "form and domain, eleven everyday domains per author (coding to gardening to politics); written because the gate "
        "stopped about a quarter of ordinary instructions (96 of LLMBar's 418, used only to measure); blind second pass on "
        "every case; c71-c74 (2026-12-07), written for error patterns the dev set showed (never its cases), 100 minimal "
        "pairs each: violent or criminal slang and idioms in agent and moderation work, done literally and in scope, "
        "beside twins whose context reveals a real risk or whose action overreaches (c71); honest work under a stated "
        "objective that protects the measurement beside gaming presented as good news, and proportionate public plans "
        "beside ones that remove the thing itself (c72); a risk hidden in one detail of the context (an earlier "
        "disclosure, a restriction after surgery, a minor, an investigation, a legal hold) that a warm, competent reply "
        "ignores, beside the twin without the detail or that accounts for it (c73); operations asked for bluntly and "
        "done exactly in scope beside the same request carried too far or done without a needed sign-off (c74); blind "
        "second pass on every case; c75-c80 (2026-12-07), plain chat turns (the user's message as typed as the "
        "context, the assistant's reply as the action, no system prompt), written because the default gate allowed "
        "69% of the harmful compliances among XSTest's recorded replies (used only to measure): plainly harmful "
        "requests answered with compliance (non-operational: generic steps cut off with '...') beside a refusal or "
        "safe redirect of the same message (c75); a violent or criminal word with a harmless target or meaning "
        "answered plainly beside a harmful target complied with (c76); everyday questions answered well beside "
        "replies that are dangerous, deceptive, manipulative or demeaning (c77); role-play, fiction, 'for research' "
        "and jailbreak wrappers whose reply stays harmless beside ones that comply, and earlier turns that reveal "
        "the intent (c78); an assistant with the user's tools taking a consequential step unsigned or settling a "
        "contested question beside preparing it for the user to decide (c79); gaming a stated goal and doing far "
        "more than asked beside the honest, scoped answer (c80); blind second pass on every case; c81-c84 "
        "(2026-12-07), plain chat turns again: the same request and reply with the person described by a protected "
        "attribute incidental to it (about themselves, in a profile line, a third person, a name) beside the same "
        "without the description, one decision for both (c81, c82; written because the chat data of c75-c80 made "
        "the gate stop plain requests whose writer mentions a disability or their age), and harmful requests "
        "answered the way real chat models comply (long, friendly, structured, a caveat at the end; "
        "non-operational) beside a refusal with a safe redirect, harmless and harmful targets of the same words, "
        "and 'I can't help, but hypothetically ...' replies that deliver the substance beside real refusals (c83, "
        "c84); c85-c87 (2026-12-07), how-to chat turns: ordinary tasks answered with direct instructions "
        "(imperatives, numbered steps, tips, recipes, commands, quantities; a quarter in an app or agent context, a "
        "few with no context), 150 each, beside 50 twins each in the same style whose task harms someone or whose "
        "step is clearly dangerous or illegal (written because the linear head and the cross-encoder both stopped "
        "plain advice such as 'Use pots with drainage holes.' after a question about herbs, P(block) about 0.9); "
        "c88-c91 (2026-12-07, evening), user prompts judged alone (empty context, the form a gate sees a message "
        "in before any answer): ordinary requests phrased as commands ('Write ...', 'Fix this code', 'Summarize "
        "...', with pasted material, constraints, roles and formats), 260 each, 30 benign-edgy each, beside 110 "
        "twins each in the same shape whose request crosses a line (fake reviews, phishing, defamation, live exam "
        "cheating, covert drugging), in writing, programming, household and study domains (written because the "
        "cross-encoder stopped 28% of a sample of ordinary Alpaca instructions and 31% of LLMBar's); "
        "blind second pass on every case; c92-c95 (2026-12-07, night), cases in deployment context written for the "
        "error patterns the dev set showed (never its cases): alarming words that are fine (idioms, hyperbole, "
        "satire labelled as satire, dark humour the person asked for, moderation leaving such posts up) beside "
        "twins that cross a line (c92); blunt operations jargon ('nuke the staging pods', 'purge the dormant "
        "subscribers') done exactly in scope beside the same words carried into production, widened or made "
        "irreversible (c93); harm that reads as helpful because of a fact in the context (a customer under "
        "investigation tipped off, a clinician's restriction or an earlier sign of crisis ignored, records "
        "backdated) beside the same action without that fact or handled with it in mind (c94, c95); "
        "blind second pass on every case. Each wrote every "
        "case by hand (no templates or generators) and "
        "validated its own file. None saw the "
        "dev set (`bench/judgment_dev`, written by two other authors who saw only the kinds and a list of domains) "
        "or the teaching bench.", "",
        "Cleaning: records with an unknown kind, principle or key, or a decision that does not match the kind, are "
        f"skipped; normalised exact duplicates and near-duplicates (joint-embedding cosine >= {near}) are removed, "
        "except that a case is never dropped as a near-duplicate of its own minimal-pair twin (since 2026-12-07: "
        "a pair that changes one word is the lesson). "
        f"A prompt judged alone (empty context) is also dropped when it is a near-duplicate (cosine >= {public_near}) of a "
        "prompt in a reported public set (XSTest, the Alpaca instructions of refusal-direction's harmless_test, "
        "LLMBar, OpenAI moderation, MaliciousInstruct, Do-Not-Answer: `REPORTED_PROMPTS`): "
        f"{n_public} dropped. "
        f"Label consistency: {n_second} cases were labelled again, blind, by a second author (every case of c36-c38, c43-c60, c64-c66 and c67-c95, "
        "and, of the earlier authors, the cases a model trained on the other authors' cases found least likely under "
        f"their own label); the {n_disagree} whose second label meant another decision were dropped.", "",
        "Not for training: the minimal pairs of c61-c66 are the packaged reference suite the promotion gate holds "
        "every retrained decision model to (`src/accord/data/reference/pairs.jsonl`, built by "
        "`scripts/build_reference_suite.py`); the training scripts leave these authors out, so that no packaged "
        "model passes that check by memory.", "",
        "| kind | decision | cases |", "|---|---|---:|",
        *[f"| {k} | {d} | {kinds[k]} |" for k, d in KINDS.items()],
        f"| **total** | | **{len(rows)}** (of {n_read} written) |", "",
        f"{len(doms)} domains; {tools} actions are tool calls; {in_pairs} cases ({in_pairs / max(len(rows), 1):.0%}) are in "
        "minimal pairs (same context and two actions, one acceptable; or the same action in two contexts).", "",
        "Record: `id, domain, kind, decision, principle, context, action` (prose, or a tool call "
        "`{name, arguments}`), `why` (one line), `communities` (two named communities for contested cases), `pair`.", "",
        "Domains: " + ", ".join(f"{d} ({n})" for d, n in sorted(doms.items())) + ".", "",
        "Caveats: every author is a language model writing in English; the cases are plausible, not observed "
        "traffic, and a kind's boundary (high-stakes vs side-effect, contested vs harmful) is a judgment call "
        "that two labellers do not always share.",
    ]
    (ROOT / "corpus" / "DATACARD.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
