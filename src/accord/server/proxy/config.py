"""The proxy's settings (what ``accord serve`` turns its options into)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProxyConfig:
    """How the proxy talks to the upstream and treats clients.

    Attributes:
        upstream: the upstream's OpenAI base URL, including ``/v1`` (``http://127.0.0.1:8000/v1``);
            the proxy calls ``{upstream}/chat/completions`` and ``{upstream}/models``.
        upstream_api_key: sent upstream as ``Authorization: Bearer``. When it is ``None`` and no
            client keys are configured, the client's own ``Authorization`` header is passed on.
        connect_timeout_s: time to connect to the upstream (then 502).
        read_timeout_s: longest silence from the upstream: before the first byte, or between two
            stream chunks (then 504, or an error event in a stream).
        max_body_bytes: largest request body accepted (then 413).
        rate_limit_per_min: default requests per minute per client key (or per client address when
            keys are not configured); a key's own limit overrides it. ``None``: no limit.
        stream_window: sentences per judgment while streaming. Each judgment looks at the whole
            text so far and releases it up to the last judged boundary; ``0`` buffers the whole
            response and judges it once (most latency, fewest judgments).
        stream_max_chars: held text longer than this without a sentence boundary is judged at the
            last space (so a response without punctuation still streams).
        stream_overlap_chars: each streamed judgment also reads up to this much text before the new
            part (a phrase across the boundary is seen whole); the whole answer is judged once at
            the end too.
        max_output_chars: the longest answer (text, refusal and tool calls of one choice) the proxy
            judges; a longer one is blocked with a reason that says so (never passed on unjudged).
        judge_input: judge the new user/tool messages before they go upstream.
        judge_timeout_s: hard limit on waiting for the judge (beyond the charter's own budget);
            past it the verdict is the charter's ``on_timeout``.
        context_messages: how many earlier messages a case carries as context.
        max_messages: most messages one request may carry (then 400): every message of the current
            turn and every system message is judged, so a request of 20,000 small messages would
            stall the judge for everyone.
        spool_dir: the durable spool of streamed text released before its record is written
            (:mod:`accord.server.proxy.spool`); ``None``: ``$ACCORD_SPOOL_DIR``, else beside a
            SQLite store, else ``.accord/spool/<hash of the store URL>``. Without a store (records
            kept in memory) there is no spool unless this is set.
    """

    upstream: str
    upstream_api_key: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 120.0
    max_body_bytes: int = 1 << 20
    rate_limit_per_min: float | None = None
    stream_window: int = 1
    stream_max_chars: int = 400
    stream_overlap_chars: int = 400
    max_output_chars: int = 2_000_000
    judge_input: bool = True
    judge_timeout_s: float | None = None
    context_messages: int = 8
    max_messages: int = 512
    spool_dir: str | None = None

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, got {self.upstream!r}")
        if self.stream_window < 0:
            raise ValueError("stream_window must be >= 0")
        if self.stream_overlap_chars < 0 or self.max_output_chars <= 0:
            raise ValueError("stream_overlap_chars must be >= 0 and max_output_chars > 0")
        if self.max_messages <= 0:
            raise ValueError("max_messages must be > 0")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be > 0")
        if self.rate_limit_per_min is not None and self.rate_limit_per_min <= 0:
            raise ValueError("rate_limit_per_min must be > 0")

    @property
    def base(self) -> str:
        return self.upstream.rstrip("/")
