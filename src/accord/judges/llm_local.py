"""A GGUF model in this process, behind the chat-completions API the LLM judge already speaks.

Machines without a model server can still use the ``llm`` judge: :class:`LlamaCppTransport` is an
``httpx`` transport that answers ``POST /chat/completions`` by running a GGUF model with
llama-cpp-python (``pip install 'accord[llm]'``; it compiles llama.cpp on install). The judge
builds the same prompts, validates the same answers and caches them the same way as with a
server; only the wire is gone.

What it honours from the request body: ``messages`` (formatted with the model's own chat
template from the GGUF), ``max_tokens``, greedy decoding, ``grammar`` (GBNF) and
``response_format`` (``json_object``, with or without ``schema``, and ``json_schema``) as
constraints, and ``logprobs`` / ``top_logprobs`` for the **first** answer token only (what the
judge's ``verdict`` and Llama Guard formats read), computed from the real logits without keeping
logits for the whole prompt (``logits_all`` would cost ``n_ctx`` × vocabulary floats).

**AMX.** llama.cpp repacks weights for Intel AMX when the CPU lists it; in virtual machines that
list AMX without enabling its state (the 2-core VMs accord is built on) every evaluation then dies
with a segmentation fault. Where ``/proc/cpuinfo`` lists AMX, the model is loaded without llama.cpp's
extra buffer types (``use_extra_bufts=False``; slower on real AMX hardware, where
``ACCORD_LLM_EXTRA_BUFTS=1`` turns them back on). ``python -m accord.judges.llm_local`` starts
llama-cpp-python's OpenAI-compatible server (same arguments as ``python -m llama_cpp.server``)
with the same setting.

The evaluated prompt is kept between requests: a request that starts with the same tokens (the
charter's system prompt and worked examples) evaluates only the rest (``prefix_cache=False``
evaluates everything, for measuring what the cache saves). One model has one context, so
requests take turns. With ``state_dir`` (the judge passes ``<cache_dir>/prefix-states``) the
evaluated prefix also outlives the process: the part of a prompt before the last message's text
(the charter's system prompt and worked examples; at least :data:`MIN_SAVED_PREFIX` tokens) is
written there once, as llama.cpp's KV cache (about 28 KB a token for the 1.5B model), and a new
process whose prompt starts with those tokens loads it instead of evaluating them again: one
``accord check`` pays for the charter once, not on every run.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from accord.errors import InputError

__all__ = ["LlamaCppTransport"]

DEFAULT_CTX = 4096
#: the shortest shared prefix worth keeping on disk (tokens), and how many such states a folder keeps per model
MIN_SAVED_PREFIX = 64
MAX_SAVED_STATES = 8
_PATCH_LOCK = threading.Lock()


def extra_buffer_types() -> bool:
    """Whether llama.cpp may use its extra (repacking, AMX) buffer types: not where the CPU lists AMX."""
    env = os.environ.get("ACCORD_LLM_EXTRA_BUFTS")
    if env is not None:
        return env.strip().lower() not in ("0", "false", "no", "off", "")
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    return not any(f in flags for f in (" amx_tile", " amx_int8", " amx_bf16"))


@contextlib.contextmanager
def _model_defaults(use_extra_bufts: bool) -> Any:
    """llama-cpp-python builds its model parameters from ``llama_model_default_params()``: adjust them."""
    from llama_cpp import llama_cpp as lib

    if use_extra_bufts:
        yield
        return
    with _PATCH_LOCK:
        orig = lib.llama_model_default_params

        def defaults() -> Any:
            p = orig()
            p.use_extra_bufts = False
            return p

        lib.llama_model_default_params = defaults
        try:
            yield
        finally:
            lib.llama_model_default_params = orig


class _BadRequest(Exception):
    """A request this backend cannot serve (answered with HTTP 400: not retried, fails closed)."""


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise InputError(f"{name} must be a whole number, not {raw!r}") from None
    if v <= 0:
        raise InputError(f"{name} must be positive, not {v}")
    return v


class LlamaCppTransport(httpx.BaseTransport):
    """Serves the chat-completions API in process from a GGUF file (see the module docstring).

    Args:
        path: the GGUF file (``python scripts/fetch_llm.py`` fetches one and prints its path).
        n_ctx: context length in tokens (default ``$ACCORD_LLM_CTX`` or 4096): the system prompt,
            the case and the answer must fit.
        n_threads: CPU threads (default ``$ACCORD_LLM_THREADS`` or the cores this process may use,
            at most 8; on a busy machine fewer can be faster).
        prefix_cache: reuse the evaluated prompt prefix between requests.
        state_dir: a folder where the evaluated prefix is kept between processes (None: not kept).
        verbose: let llama.cpp print its loading and timing lines.
    """

    def __init__(self, path: str | Path, *, n_ctx: int | None = None, n_threads: int | None = None,
                 prefix_cache: bool = True, state_dir: str | Path | None = None, verbose: bool = False) -> None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise InputError(f"no GGUF model at {p}",
                             hint="fetch one with `python scripts/fetch_llm.py` (it prints the path) and set ACCORD_LLM_GGUF to it")
        try:
            import llama_cpp
            from llama_cpp import llama_chat_format
        except ImportError:
            raise InputError("judging with a GGUF model in this process needs llama-cpp-python",
                             hint="pip install 'accord[llm]' (it compiles llama.cpp: 10-20 minutes on 2 cores)") from None
        self.path = p
        self.n_ctx = n_ctx or _int_env("ACCORD_LLM_CTX", DEFAULT_CTX)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.n_threads = n_threads or _int_env("ACCORD_LLM_THREADS", max(1, min(8, cores)))
        self.prefix_cache = prefix_cache
        self._llama_cpp = llama_cpp
        self.extra_buffer_types = extra_buffer_types()
        try:
            with _model_defaults(self.extra_buffer_types):
                self._llm: Any = llama_cpp.Llama(model_path=str(p), n_ctx=self.n_ctx, n_threads=self.n_threads,
                                            n_threads_batch=self.n_threads, logits_all=False, verbose=verbose)
        except (ValueError, RuntimeError, OSError) as e:
            raise InputError(f"llama.cpp cannot load {p}: {e}", hint="is it a GGUF file, complete and for this llama.cpp version?") from None
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise InputError(f"{p.name} has no chat template (tokenizer.chat_template): it is not an instruction model accord can prompt")
        llm = self._llm
        eos, bos = llm.token_eos(), llm.token_bos()
        self._format = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.state_dir = Path(state_dir).expanduser() if state_dir is not None and prefix_cache else None
        st = p.stat()
        # what a saved state is valid for: this file (name, size, time) and this llama.cpp
        self._model_id = hashlib.sha256(f"{p.name}|{st.st_size}|{st.st_mtime_ns}|{getattr(llama_cpp, '__version__', '')}".encode()).hexdigest()[:16]
        self._saved: set[str] = set()
        self.stats = {"requests": 0, "prompt_tokens": 0, "evaluated_tokens": 0, "reused_tokens": 0, "completion_tokens": 0,
                      "restored_tokens": 0, "saved_states": 0}

    # ------------------------------------------------------------------ httpx transport
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return httpx.Response(404, json={"error": {"message": f"in-process llama.cpp serves POST /chat/completions, not {request.method} {request.url.path}"}})
        try:
            body = json.loads(request.read())
            return httpx.Response(200, json=self.chat(body))
        except (_BadRequest, ValueError, KeyError, TypeError) as e:
            return httpx.Response(400, json={"error": {"message": f"{type(e).__name__}: {e}"}})

    def close(self) -> None:
        llm, self._llm = getattr(self, "_llm", None), None
        if llm is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                llm.close()

    # ------------------------------------------------------------------ one request
    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """One chat completion (the OpenAI response shape) for a request body."""
        llm = self._llm
        if llm is None:
            raise _BadRequest("the model was closed")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("messages must be a non-empty list")
        max_tokens = int(body.get("max_tokens") or 256)
        formatted = self._format(messages=messages)
        # the template writes its own special tokens (as llama-cpp-python's chat handler assumes)
        tokens = llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) + max_tokens > self.n_ctx:
            raise _BadRequest(f"the prompt is {len(tokens)} tokens; with max_tokens {max_tokens} it does not fit "
                              f"the context of {self.n_ctx} (set ACCORD_LLM_CTX higher)")
        grammar = self._grammar(body)
        k = int(body.get("top_logprobs") or 5) if body.get("logprobs") else 0
        stable = self._stable_prefix(messages, tokens) if self.state_dir is not None else 0
        with self._lock:
            self._eval_prompt(tokens, stable)
            top = self._top_logprobs(k) if k else None
            out: Any = llm.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=0.0, grammar=grammar,
                                        stop=formatted.stop)
            self.stats["requests"] += 1
        choice = out["choices"][0]
        text = choice["text"]
        usage = out.get("usage") or {}
        self.stats["completion_tokens"] += int(usage.get("completion_tokens") or 0)
        logprobs = None
        if top is not None:
            first = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[:1] if text else []
            first_text = llm.detokenize(first).decode("utf-8", "replace") if first else ""
            first_lp = next((t["logprob"] for t in top if t["token"] == first_text), None)
            logprobs = {"content": [{"token": first_text, "logprob": first_lp, "bytes": None, "top_logprobs": top}]}
        return {
            "id": f"chatcmpl-local-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
            "model": str(body.get("model") or self.path.stem),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": choice.get("finish_reason") or "stop", "logprobs": logprobs}],
            "usage": {"prompt_tokens": len(tokens), "completion_tokens": usage.get("completion_tokens", 0),
                      "total_tokens": len(tokens) + int(usage.get("completion_tokens") or 0)},
        }

    def _stable_prefix(self, messages: list[Any], tokens: list[int]) -> int:
        """How many of ``tokens`` come before the last message's text: the part every case shares."""
        last = messages[-1]
        other = self._format(messages=[*messages[:-1], {**last, "content": "\u2063"}])  # type: ignore[list-item]
        alt = self._llm.tokenize(other.prompt.encode("utf-8"), add_bos=False, special=True)
        n = min(len(alt), len(tokens))
        diff = np.nonzero(np.asarray(alt[:n]) != np.asarray(tokens[:n]))[0]
        return int(diff[0]) if len(diff) else n

    def _eval_prompt(self, tokens: list[int], stable: int = 0) -> None:
        """Evaluate ``tokens``, reusing the longest prefix already in the context (unless disabled);
        the first ``stable`` tokens (what every case shares) are also saved to ``state_dir``, once."""
        llm = self._llm
        keep = 0
        if self.prefix_cache and not llm.n_tokens and self.state_dir is not None:
            self._restore(tokens)
        if self.prefix_cache and llm.n_tokens:
            have = llm.input_ids[: llm.n_tokens]
            n = min(len(have), len(tokens))
            diff = np.nonzero(np.asarray(have[:n]) != np.asarray(tokens[:n]))[0]
            keep = int(diff[0]) if len(diff) else n
            keep = min(keep, len(tokens) - 1)  # evaluate at least one token: its logits are the answer's first
        save_at = stable if (self.state_dir is not None and MIN_SAVED_PREFIX <= stable < len(tokens) - 1
                             and self._digest(tokens[:stable]) not in self._saved) else 0
        if save_at:
            keep = min(keep, save_at)
        if keep == 0:
            llm.reset()
        else:
            llm.n_tokens = keep  # eval() drops the context after this point
        if save_at:  # evaluate up to the end of the shared part, keep that on disk, then the rest
            if keep < save_at:
                llm.eval(tokens[keep:save_at])
            self._save(tokens[:save_at])
            llm.eval(tokens[save_at:])
        else:
            llm.eval(tokens[keep:])
        self.stats["prompt_tokens"] += len(tokens)
        self.stats["reused_tokens"] += keep
        self.stats["evaluated_tokens"] += len(tokens) - keep

    # ------------------------------------------------------------------ the prefix on disk
    @staticmethod
    def _digest(tokens: list[int]) -> str:
        return hashlib.sha256(np.asarray(tokens, dtype=np.int32).tobytes()).hexdigest()[:32]

    def _index(self) -> Path:
        assert self.state_dir is not None
        return self.state_dir / f"{self._model_id}.json"

    def _read_index(self) -> list[dict[str, Any]]:
        try:
            entries = json.loads(self._index().read_text(encoding="utf-8"))
            return [e for e in entries if isinstance(e, dict) and isinstance(e.get("n"), int) and isinstance(e.get("hash"), str)]
        except (OSError, ValueError, TypeError):
            return []

    def _save(self, prefix: list[int]) -> None:
        """Keep the evaluated ``prefix`` (the context holds it and maybe more) on disk, once."""
        digest = self._digest(prefix)
        if digest in self._saved:
            return
        self._saved.add(digest)
        assert self.state_dir is not None
        entries = self._read_index()
        if any(e["hash"] == digest for e in entries):
            return
        llm = self._llm
        path = self.state_dir / f"{self._model_id}-{digest}.state"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            llm._ctx.kv_cache_seq_rm(-1, len(prefix), -1)  # the state holds the prefix and nothing after it
            arr = (self._llama_cpp.llama_token * len(prefix))(*prefix)
            if not self._llama_cpp.llama_state_seq_save_file(llm._ctx.ctx, str(tmp).encode(), 0, arr, len(prefix)):
                raise OSError("llama.cpp did not write the state")
            tmp.replace(path)
            entries = [e for e in self._read_index() if e["hash"] != digest] + [{"hash": digest, "n": len(prefix)}]
            for old in entries[:-MAX_SAVED_STATES]:  # the oldest go
                (self.state_dir / f"{self._model_id}-{old['hash']}.state").unlink(missing_ok=True)
            itmp = self._index().with_name(f".{self._index().name}.{os.getpid()}.tmp")
            itmp.write_text(json.dumps(entries[-MAX_SAVED_STATES:]), encoding="utf-8")
            itmp.replace(self._index())
            self.stats["saved_states"] += 1
        except OSError:  # an optimisation: a full or read-only disk only costs the next process time
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _restore(self, tokens: list[int]) -> None:
        """Load the longest saved prefix of ``tokens`` into the (empty) context, if there is one."""
        assert self.state_dir is not None
        llm = self._llm
        for e in sorted(self._read_index(), key=lambda e: -e["n"]):
            n = e["n"]
            if n >= len(tokens) or self._digest(tokens[:n]) != e["hash"]:
                continue
            path = self.state_dir / f"{self._model_id}-{e['hash']}.state"
            out = (self._llama_cpp.llama_token * n)()
            count = ctypes.c_size_t(0)
            llm.reset()
            if not path.is_file() or not self._llama_cpp.llama_state_seq_load_file(
                    llm._ctx.ctx, str(path).encode(), 0, out, n, ctypes.byref(count)) or count.value != n \
                    or list(out) != tokens[:n]:
                llm._ctx.kv_cache_seq_rm(-1, 0, -1)
                continue
            llm.input_ids[:n] = tokens[:n]
            llm.n_tokens = n
            self._saved.add(e["hash"])
            self.stats["restored_tokens"] += n
            return

    def _top_logprobs(self, k: int) -> list[dict[str, Any]]:
        """The ``k`` most likely next tokens and their log-probabilities, from the last logits."""
        llm = self._llm
        logits = np.array(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)), dtype=np.float64)
        m = logits.max()
        lp = logits - (m + np.log(np.exp(logits - m).sum()))
        k = max(1, min(k, 50, len(lp)))
        idx = np.argpartition(-lp, k - 1)[:k]
        idx = idx[np.argsort(-lp[idx])]
        return [{"token": llm.detokenize([int(i)]).decode("utf-8", "replace"), "logprob": float(lp[i]), "bytes": None}
                for i in idx]

    def _grammar(self, body: dict[str, Any]) -> Any:
        """The request's constraint as a llama.cpp grammar (compiled once per text), or None."""
        g = self._llama_cpp.LlamaGrammar
        key: str | None = None
        if isinstance(body.get("grammar"), str) and body["grammar"].strip():
            key, build = "gbnf:" + body["grammar"], lambda: g.from_string(body["grammar"], verbose=False)
        else:
            rf = body.get("response_format")
            if isinstance(rf, dict) and rf.get("type") == "json_object":
                if "schema" in rf:
                    text = json.dumps(rf["schema"])
                    key, build = "schema:" + text, lambda: g.from_json_schema(text, verbose=False)
                else:
                    from llama_cpp.llama_grammar import JSON_GBNF

                    key, build = "json", lambda: g.from_string(JSON_GBNF, verbose=False)
            elif isinstance(rf, dict) and rf.get("type") == "json_schema":
                text = json.dumps(rf["json_schema"]["schema"])
                key, build = "schema:" + text, lambda: g.from_json_schema(text, verbose=False)
        if key is None:
            return None
        if key not in self._grammars:
            try:
                self._grammars[key] = build()
            except (ValueError, RuntimeError) as e:
                raise _BadRequest(f"llama.cpp rejected the grammar: {e}") from None
        return self._grammars[key]


def serve() -> None:
    """``python -m accord.judges.llm_local ARGS``: llama-cpp-python's server, with the AMX setting above."""
    from llama_cpp import llama_cpp as lib
    from llama_cpp.server.__main__ import main

    if not extra_buffer_types():
        orig = lib.llama_model_default_params

        def defaults() -> Any:
            p = orig()
            p.use_extra_bufts = False
            return p

        lib.llama_model_default_params = defaults
    main()


if __name__ == "__main__":
    serve()

