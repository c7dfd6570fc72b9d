"""The LLM judge: any OpenAI-compatible chat endpoint as a cascade stage.

Users plug in the strongest judge they have (a hosted API, or Ollama, vLLM or a llama.cpp server
on their own machine) and the cascade sends it only the cases the cheap judges are unsure about.

Two answer formats:

* ``format="json"`` (default): the model gets the charter's principles and one case, and must
  answer one JSON object ``{"principles": [{"id", "score", "quote"?, "reason"?}, ...]}`` with a
  score in [0, 1] for *every* principle. The answer is validated with pydantic; anything else
  (prose, a missing or unknown principle, a score out of range, an extra key) is a
  :class:`~accord.errors.JudgeError`. A malformed answer never becomes an allow.
* ``format="llama-guard"``: a Llama Guard model served behind the same API (its chat template
  builds the guard prompt from the user / assistant turns). It answers ``safe`` or
  ``unsafe\\nS1,S10``; categories map to charter principles (a table per Llama Guard version,
  overridable). Flagged principles score 1.0 and the other mapped principles 0.0, or, with
  ``logprobs=True`` on servers that return them, P(unsafe) of the first answer token.
* ``format="verdict"``: the answer a small model gives reliably: one line, ``allow``, ``block
  <principle>`` or ``escalate <principle>``. The score is not the word but the probability mass of
  the **first answer token** (``P(block) + P(escalate) / 2``, renormalised over the three), read
  from the log-probabilities the server returns, and mapped through a :class:`Calibration` fitted
  on labelled cases when one is given. ``allow`` speaks for every principle; ``block`` /
  ``escalate`` give the principle named (the gravest when none is named) the score and the other
  principles 0, so the answer settles the whole case in a cascade.

The charter's principles form the system prompt and (with ``examples``) some of its examples follow
as worked turns for ``verdict`` (inside the system prompt for ``json``); all of it is identical for
every case, so servers that keep the evaluated prompt (llama.cpp's ``cache_prompt``) pay for it once. ``constrain="llama.cpp"`` sends a JSON schema (``json``) or a GBNF grammar
(``verdict``) that llama.cpp servers (and llama-cpp-python's) enforce while sampling, so a small
model cannot answer off-format; ``constrain="openai"`` sends a strict ``json_schema`` response
format (OpenAI, vLLM). With ``gguf=path`` (or ``$ACCORD_LLM_GGUF``) the model runs in this process
through llama-cpp-python (:mod:`accord.judges.llm_local`), with the same prompts and scoring.

Failure is closed: time-outs raise :class:`~accord.errors.JudgeTimeout`, everything else
:class:`~accord.errors.JudgeError`; the cascade and gate turn both into escalate or block.
Connection errors, 429 and 5xx answers are retried with exponential backoff (honouring
``Retry-After``); other 4xx answers (a bad key, an unknown model) are not.

Answers are cached in memory (LRU) and optionally on disk, keyed by the endpoint's model, the
format, the prompt version, a hash of the charter's principles and the case's text, so a repeated
case costs no request and a changed charter never reuses old answers.

The case text is untrusted: it is sent as data between markers, and the quoted evidence the model
returns is kept only when it is found verbatim in the case.

The judge lives in four modules: this one (options, requests, retries, the answer cache),
:mod:`~accord.judges.llm_prompts` (what is asked), :mod:`~accord.judges.llm_answers` (how answers
are read and scored) and :mod:`~accord.judges.llm_calibration` (raw score → probability).
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import httpx

from accord.charter.model import Charter
from accord.errors import InputError, JudgeError, JudgeTimeout
from accord.judges.llm_answers import (
    LLAMA_GUARD_CATEGORIES,
    VERDICTS,
    AnswerParsing,
    excerpt,
    reply_content,
)
from accord.judges.llm_calibration import Calibration, expected_calibration_error, fit_calibration
from accord.judges.llm_prompts import (
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    USER_TEMPLATE,
    VERDICT_PROMPT,
    charter_hash,
    example_turns,
    json_schema,
    render_examples,
    render_principles,
    verdict_grammar,
)
from accord.types import Case, Score

__all__ = ["LLAMA_GUARD_CATEGORIES", "PROMPT_VERSION", "VERDICTS", "Calibration", "LLMJudge",
           "expected_calibration_error", "fit_calibration"]

Format = Literal["json", "llama-guard", "verdict"]
Constrain = Literal["off", "llama.cpp", "openai"]
FORMATS = ("json", "llama-guard", "verdict")
CONSTRAINS = ("off", "llama.cpp", "openai")


class _Retryable(Exception):
    """A failure worth another try: connection trouble, 429 or 5xx."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after



class LLMJudge(AnswerParsing):
    """Judges cases by asking an OpenAI-compatible chat endpoint; see the module docstring.

    Every option has an environment default so ``get_judge("llm")`` (and a cascade named in a
    config) works without code: ``ACCORD_LLM_BASE_URL``, ``ACCORD_LLM_MODEL``,
    ``ACCORD_LLM_FORMAT``, ``ACCORD_LLM_CONSTRAIN``, ``ACCORD_LLM_CALIBRATION``,
    ``ACCORD_LLM_EXAMPLES``, ``ACCORD_LLM_CACHE_DIR``, ``ACCORD_LLM_GGUF`` (in-process model; also ``ACCORD_LLM_CTX``,
    ``ACCORD_LLM_THREADS``), and the API key in the variable named by ``api_key_env``.

    Args:
        model: the model name the endpoint serves (required: argument or ``$ACCORD_LLM_MODEL``).
        base_url: the API root, e.g. ``http://127.0.0.1:11434/v1`` (Ollama),
            ``http://127.0.0.1:8000/v1`` (vLLM), ``https://api.openai.com/v1``.
        api_key_env: the environment variable holding the API key; unset sends no key (local servers).
        format: ``"json"``, ``"llama-guard"`` or ``"verdict"`` (default ``json``; ``verdict`` with
            ``gguf``).
        constrain: ``"off"``, ``"llama.cpp"`` (a JSON schema in ``response_format`` for ``json``, a
            GBNF ``grammar`` for ``verdict``, and ``cache_prompt``: llama.cpp's server and
            llama-cpp-python's) or ``"openai"`` (a strict ``json_schema`` response format for
            ``json``). Default ``off``; ``llama.cpp`` with ``gguf``.
        examples: examples per principle and side (upholds / violates) shown in the system prompt
            (default 1; 0 shows none).
        calibration: a :class:`Calibration` or the path of one saved as JSON, applied to every
            score (fitted for this model, format and prompt).
        gguf: a GGUF file to run in this process with llama-cpp-python (``pip install
            'accord[llm]'``) instead of calling an endpoint; ``n_ctx``, ``n_threads`` and
            ``prefix_cache`` (reuse the evaluated system prompt) configure it.
        timeout_s: read / write time-out of one request (default ``$ACCORD_LLM_TIMEOUT`` or 30 s);
            ``connect_timeout_s`` for connecting.
        deadline_s: the most one :meth:`judge` call may take, retries included (default: no limit
            beyond the time-outs; the cascade's budget applies anyway).
        retries: extra tries after a retryable failure; ``backoff_s`` the first wait (doubling,
            with jitter; ``Retry-After`` is honoured up to ``max_backoff_s``).
        max_concurrency: requests in flight at once for this judge (shared by concurrent calls).
        cache_size: answers kept in memory (0 turns the memory cache off).
        cache_dir: a folder for an on-disk cache that survives restarts (one JSON file per answer; with
            ``gguf``, also the evaluated prompt prefix, in ``prefix-states/``).
        json_mode: send ``response_format={"type": "json_object"}`` (json format only); turn off
            for servers that reject it.
        max_tokens, temperature: generation settings (temperature 0 for repeatable verdicts).
        guard_version: Llama Guard version (1, 2, 3; use 3 for Llama Guard 4) for the default
            category table; ``categories`` replaces it (code → principle ids).
        logprobs: ask for log-probabilities: Llama Guard scores P(unsafe) instead of 0/1, the verdict
            format scores the first token's mass (default: on for ``verdict``, off otherwise;
            without them a verdict scores its word: allow 0, escalate 0.5, block 1).
        headers: extra HTTP headers (e.g. an organisation id).
        transport: an httpx transport (a test seam; default: the network).
    """

    name = "llm"

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key_env: str = "ACCORD_LLM_API_KEY",
        format: Format | None = None,
        timeout_s: float | None = None,
        connect_timeout_s: float = 5.0,
        deadline_s: float | None = None,
        retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        max_concurrency: int = 4,
        cache_size: int = 10_000,
        cache_dir: str | Path | None = None,
        json_mode: bool = True,
        max_tokens: int = 800,
        temperature: float = 0.0,
        guard_version: int = 3,
        categories: Mapping[str, Sequence[str]] | None = None,
        logprobs: bool | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        constrain: Constrain | None = None,
        examples: int | None = None,
        calibration: Calibration | str | Path | None = None,
        gguf: str | Path | None = None,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        prefix_cache: bool = True,
    ) -> None:
        if gguf is None and base_url is None and transport is None:
            gguf = os.environ.get("ACCORD_LLM_GGUF") or None
        self.gguf = Path(gguf).expanduser() if gguf is not None else None
        self.model = model or os.environ.get("ACCORD_LLM_MODEL", "") or (self.gguf.stem if self.gguf else "")
        if not self.model:
            raise InputError("the llm judge needs a model name",
                             hint="pass model=... or set ACCORD_LLM_MODEL (and ACCORD_LLM_BASE_URL), "
                                  "or ACCORD_LLM_GGUF=path/to/model.gguf to run one in this process")
        fmt = format or os.environ.get("ACCORD_LLM_FORMAT") or ("verdict" if self.gguf else "json")
        if fmt not in FORMATS:
            raise InputError(f"unknown llm judge format {fmt!r}; use one of: {', '.join(FORMATS)}")
        self.format: Format = fmt  # type: ignore[assignment]
        con = constrain or os.environ.get("ACCORD_LLM_CONSTRAIN") or ("llama.cpp" if self.gguf else "off")
        if con not in CONSTRAINS:
            raise InputError(f"unknown llm judge constrain {con!r}; use one of: {', '.join(CONSTRAINS)}")
        self.constrain: Constrain = con  # type: ignore[assignment]
        if examples is None:
            env = os.environ.get("ACCORD_LLM_EXAMPLES", "1")
            try:
                examples = int(env)
            except ValueError:
                raise InputError(f"ACCORD_LLM_EXAMPLES must be a whole number, not {env!r}") from None
        if examples < 0:
            raise InputError(f"examples must be >= 0, not {examples}")
        self.examples = examples
        if calibration is None and os.environ.get("ACCORD_LLM_CALIBRATION"):
            calibration = os.environ["ACCORD_LLM_CALIBRATION"]
        self.calibration = Calibration.load(calibration) if isinstance(calibration, (str, Path)) else calibration
        if self.calibration is not None:
            want = {"model": self.model, "format": self.format, "prompt": self.prompt_id}
            got = {k: getattr(self.calibration, k) for k in want}
            bad = [f"{k} {got[k]!r} (this judge: {want[k]!r})" for k in want if got[k] and got[k] != want[k]]
            if bad:
                raise InputError(f"the llm calibration was fitted for another judge: {'; '.join(bad)}",
                                 hint="fit one for this model, format and prompt (bench/llm_judge.py --calibrate PATH)")
        if cache_dir is None and os.environ.get("ACCORD_LLM_CACHE_DIR"):
            cache_dir = os.environ["ACCORD_LLM_CACHE_DIR"]
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        if self.gguf is not None:
            from accord.judges.llm_local import LlamaCppTransport

            transport = LlamaCppTransport(self.gguf, n_ctx=n_ctx, n_threads=n_threads, prefix_cache=prefix_cache,
                                          state_dir=self.cache_dir / "prefix-states" if self.cache_dir else None)
            base_url = "http://in-process/v1"
            max_concurrency = 1  # one model, one context: requests take turns
        self.base_url = (base_url or os.environ.get("ACCORD_LLM_BASE_URL") or "http://127.0.0.1:11434/v1").rstrip("/")
        self._transport = transport
        if guard_version not in LLAMA_GUARD_CATEGORIES and categories is None:
            raise InputError(f"unknown Llama Guard version {guard_version}; known: 1, 2, 3 (use 3 for Llama Guard 4)")
        self.categories: dict[str, tuple[str, ...]] = (
            {k.upper(): tuple(v) for k, v in categories.items()} if categories is not None
            else dict(LLAMA_GUARD_CATEGORIES[guard_version]))
        self.guard_version = guard_version
        self.retries = max(0, int(retries))
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.deadline_s = deadline_s
        self.json_mode = json_mode
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.logprobs = logprobs if logprobs is not None else self.format == "verdict"
        self.max_concurrency = max(1, int(max_concurrency))
        hdrs = {"content-type": "application/json", **(headers or {})}
        key = os.environ.get(api_key_env)
        if key:
            hdrs["authorization"] = f"Bearer {key}"
        if timeout_s is None:
            env = os.environ.get("ACCORD_LLM_TIMEOUT", "30")
            try:
                timeout_s = float(env)
            except ValueError:
                raise InputError(f"ACCORD_LLM_TIMEOUT must be a number of seconds, not {env!r}") from None
        self._client = httpx.Client(
            base_url=self.base_url, headers=hdrs, transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency),
        )
        self._pool = cf.ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="accord-llm")
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._cache: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._cache_size = max(0, int(cache_size))
        self._cache_lock = threading.Lock()
        self.stats = {"requests": 0, "cache_hits": 0, "retries": 0, "word_scores": 0}
        self._prompts: dict[str, str] = {}
        self._stats_lock = threading.Lock()

    # ------------------------------------------------------------------ protocol
    @property
    def cases_per_budget(self) -> int:
        """A budget per ``max_concurrency`` cases: one round of requests (see the Judge protocol)."""
        return self.max_concurrency

    @property
    def prompt_id(self) -> str:
        """What the prompt depends on besides the charter: version, examples shown, constraint."""
        return f"p{PROMPT_VERSION}e{self.examples}{'' if self.constrain == 'off' else '-' + self.constrain}"

    @property
    def version(self) -> str:
        """``llm:<model>:<format>:<prompt id>`` (+ ``:cal-<hash>``; the endpoint's model is the judge's identity)."""
        v = f"llm:{self.model}:{self.format}:{self.prompt_id}"
        if self.calibration is not None:
            v += ":cal-" + hashlib.sha256(self.calibration.model_dump_json().encode()).hexdigest()[:8]
        return v

    @property
    def source(self) -> str:
        return f"llm:{self.model}"

    def judge(self, cases: Sequence[Case], charter: Charter) -> list[list[Score]]:
        """Scores for every case; any case that cannot be judged fails the whole call (closed)."""
        return [self._scores(r, c) for r, c in zip(self._answers(cases, charter), cases, strict=True)]

    def raw_scores(self, cases: Sequence[Case], charter: Charter) -> list[float]:
        """Each case's uncalibrated score (the highest over its principles): what a calibration is fitted on."""
        return [max((float(a["score"]) for a in ans), default=0.0) for ans in self._answers(cases, charter)]

    def case_probabilities(self, cases: Sequence[Case], charter: Charter) -> list[float]:
        """Each case's P(unacceptable): the raw score through the calibration (if any); a soft label."""
        cal = self.calibration
        return [cal(r) if cal is not None else r for r in self.raw_scores(cases, charter)]

    def _answers(self, cases: Sequence[Case], charter: Charter) -> list[list[dict[str, Any]]]:
        if not cases:
            return []
        ch = charter_hash(charter)
        deadline = time.monotonic() + self.deadline_s if self.deadline_s is not None else None
        keys = [self._key(ch, c) for c in cases]
        raw: list[list[dict[str, Any]] | None] = [self._cache_get(k) for k in keys]
        todo: dict[str, list[int]] = {}
        for i, (k, r) in enumerate(zip(keys, raw, strict=True)):
            if r is None:
                todo.setdefault(k, []).append(i)
            else:
                self._count("cache_hits")
        if todo:
            futures = {self._pool.submit(self._ask, cases[idx[0]], charter, deadline): k for k, idx in todo.items()}
            errors: list[BaseException] = []
            for fut in cf.as_completed(futures):
                k = futures[fut]
                try:
                    answer = fut.result()
                except BaseException as e:  # collected; the first decides the error type below
                    errors.append(e)
                    continue
                self._cache_put(k, answer)
                for i in todo[k]:
                    raw[i] = answer
            if errors:
                timeouts = [e for e in errors if isinstance(e, JudgeTimeout)]
                first = timeouts[0] if timeouts else errors[0]
                more = f" (and {len(errors) - 1} more failed)" if len(errors) > 1 else ""
                if isinstance(first, JudgeError):
                    raise type(first)(f"{first.message}{more}") from first
                raise JudgeError(f"llm judge {self.model!r} failed: {type(first).__name__}: {first}{more}") from first
        return [r or [] for r in raw]

    def _count(self, what: str) -> None:
        with self._stats_lock:
            self.stats[what] += 1

    def close(self) -> None:
        """Close the HTTP connections and the worker threads."""
        self._client.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> LLMJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ one case
    def _ask(self, case: Case, charter: Charter, deadline: float | None) -> list[dict[str, Any]]:
        payload = self._payload(case, charter)
        attempt = 0
        while True:
            try:
                with self._slots:
                    data = self._post(payload, deadline)
                content, logprobs = reply_content(data)
                if self.format == "json":
                    return self._parse_json(content, charter)
                if self.format == "verdict":
                    return self._parse_verdict(content, logprobs, charter)
                return self._parse_guard(content, logprobs, charter)
            except _Retryable as e:
                if attempt >= self.retries:
                    raise JudgeError(f"llm judge {self.model!r} at {self.base_url}: {e} (after {attempt + 1} tries)") from None
                wait = min(self.max_backoff_s, e.retry_after if e.retry_after is not None
                           else self.backoff_s * (2 ** attempt) * (0.5 + random.random()))
                if deadline is not None and time.monotonic() + wait >= deadline:
                    raise JudgeTimeout(f"llm judge {self.model!r}: deadline of {self.deadline_s}s reached while retrying ({e})") from None
                attempt += 1
                self._count("retries")
                time.sleep(wait)

    def _post(self, payload: dict[str, Any], deadline: float | None) -> Any:
        timeout: httpx.Timeout = self._client.timeout
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise JudgeTimeout(f"llm judge {self.model!r}: deadline of {self.deadline_s}s reached")
            t = self._client.timeout
            timeout = httpx.Timeout(min(t.read or left, left), connect=min(t.connect or left, left))
        self._count("requests")
        try:
            r = self._client.post("/chat/completions", json=payload, timeout=timeout)
        except httpx.TimeoutException as e:
            raise JudgeTimeout(f"llm judge {self.model!r} at {self.base_url} timed out ({type(e).__name__})") from None
        except httpx.TransportError as e:
            raise _Retryable(f"{type(e).__name__}: {e}") from None
        if r.status_code == 429 or r.status_code >= 500:
            raise _Retryable(f"HTTP {r.status_code}: {excerpt(r.text)}", _retry_after(r.headers.get("retry-after")))
        if r.status_code >= 400:
            raise JudgeError(f"llm judge {self.model!r} at {self.base_url}: HTTP {r.status_code}: {excerpt(r.text)}")
        try:
            return r.json()
        except ValueError:
            raise JudgeError(f"llm judge {self.model!r}: the endpoint's reply is not JSON: {excerpt(r.text)}") from None

    def _payload(self, case: Case, charter: Charter) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "temperature": self.temperature, "stream": False}
        if self.format == "llama-guard":
            # the guard's chat template wraps these turns in its own prompt and category list
            ctx, act = case.context_text, case.action_text
            body["messages"] = ([{"role": "user", "content": ctx}, {"role": "assistant", "content": act}]
                                if ctx.strip() else [{"role": "user", "content": act}])
            body["max_tokens"] = 20
            if self.logprobs:
                body["logprobs"] = True
                body["top_logprobs"] = 5
            return body
        body["messages"] = [
            *self.prefix_messages(charter),
            {"role": "user", "content": USER_TEMPLATE.format(context=case.context_text or "(none)", action=case.action_text)},
        ]
        if self.constrain == "llama.cpp":
            body["cache_prompt"] = True  # llama.cpp's server keeps the evaluated prefix (llama-cpp-python ignores it and reuses it anyway)
        if self.format == "verdict":
            body["max_tokens"] = 16
            if self.logprobs:
                body["logprobs"] = True
                body["top_logprobs"] = 20
            if self.constrain == "llama.cpp":
                body["grammar"] = verdict_grammar(charter)
            return body
        body["max_tokens"] = self.max_tokens
        if self.constrain == "llama.cpp":
            body["response_format"] = {"type": "json_object", "schema": json_schema(charter, "llama.cpp")}
        elif self.constrain == "openai":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "accord_judgement", "strict": True, "schema": json_schema(charter, "openai")}}
        elif self.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def system_prompt(self, charter: Charter) -> str:
        """The system prompt for ``charter``: the same for every case (a cacheable prefix)."""
        key = charter_hash(charter) + self.format
        text = self._prompts.get(key)
        if text is None:
            if self.format == "verdict":  # its examples are worked turns after it (prefix_messages)
                text = VERDICT_PROMPT.format(principles=render_principles(charter), ids=", ".join(charter.principle_ids))
            else:
                text = SYSTEM_PROMPT.format(principles=render_principles(charter), ids=", ".join(charter.principle_ids),
                                            examples=render_examples(charter, self.examples))
            self._prompts[key] = text
        return text

    def prefix_messages(self, charter: Charter) -> list[dict[str, str]]:
        """The messages before the case, identical for every case: the system prompt and, for the
        ``verdict`` format, the charter's examples as worked turns (what a prompt cache keeps)."""
        shots = example_turns(charter, self.examples) if self.format == "verdict" else []
        return [{"role": "system", "content": self.system_prompt(charter)}, *shots]

    # ------------------------------------------------------------------ cache
    def _key(self, charter_hash: str, case: Case) -> str:
        parts = [self.model, self.format, self.prompt_id, str(self.logprobs),
                 charter_hash, json.dumps(sorted(self.categories.items())) if self.format == "llama-guard" else "",
                 case.context_text, case.action_text]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()

    def _cache_get(self, key: str) -> list[dict[str, Any]] | None:
        if self._cache_size:
            with self._cache_lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return hit
        if self.cache_dir is not None:
            f = self.cache_dir / key[:2] / f"{key}.json"
            try:
                answer = json.loads(f.read_text(encoding="utf-8"))["answer"]
            except (OSError, ValueError, KeyError, TypeError):
                return None
            if self._cache_size:
                self._put_memory(key, answer)
            return answer
        return None

    def _put_memory(self, key: str, answer: list[dict[str, Any]]) -> None:
        with self._cache_lock:
            self._cache[key] = answer
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _cache_put(self, key: str, answer: list[dict[str, Any]]) -> None:
        if self._cache_size:
            self._put_memory(key, answer)
        if self.cache_dir is not None:
            d = self.cache_dir / key[:2]
            tmp = d / f".{key}.{threading.get_ident()}.tmp"
            try:
                d.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps({"model": self.model, "format": self.format, "prompt": PROMPT_VERSION,
                                           "answer": answer}, ensure_ascii=False), encoding="utf-8")
                tmp.replace(d / f"{key}.json")
            except OSError:  # the disk cache is an optimisation; a full or read-only disk is no failure
                pass




def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None

