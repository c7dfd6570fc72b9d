"""The upstream's HTTP client, with every transport failure mapped to one clear error.

Refused or broken connections are 502, silence past the read time-out is 504, a body that is not
what an OpenAI-compatible server sends is 502; the upstream's own 4xx answers keep their status.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from accord.server.proxy.config import ProxyConfig
from accord.server.proxy.transport import LeanTransport

log = logging.getLogger("accord.server")


class UpstreamError(Exception):
    """A failure to get a usable answer from the upstream, as an HTTP status and an OpenAI error."""

    def __init__(self, status: int, code: str, message: str, *, type_: str = "upstream_error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.type = type_

    @property
    def kind(self) -> str:
        return {"upstream_unreachable": "unreachable", "upstream_timeout": "timeout",
                "upstream_malformed": "malformed"}.get(self.code, "status")

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": None, "code": self.code}}


class AuditUnavailable(UpstreamError):
    """The decision about an answer could not be written to the audit store: the answer is withheld."""

    def __init__(self, why: str) -> None:
        super().__init__(503, "audit_unavailable", "the decision about this answer could not be recorded in the "
                         f"audit store ({why}); the answer is withheld. Retry later.", type_="server_error")

    @property
    def kind(self) -> str:
        return "audit"


def transport_error(e: httpx.HTTPError, base: str) -> UpstreamError:
    """Map an httpx failure to a 502 or 504."""
    if isinstance(e, httpx.ConnectTimeout):
        return UpstreamError(504, "upstream_timeout", f"the upstream at {base} did not accept the connection in time")
    if isinstance(e, httpx.TimeoutException):
        return UpstreamError(504, "upstream_timeout", f"the upstream at {base} did not answer in time ({type(e).__name__})")
    if isinstance(e, httpx.ConnectError):
        return UpstreamError(502, "upstream_unreachable", f"cannot connect to the upstream at {base}: {e or type(e).__name__}")
    return UpstreamError(502, "upstream_unreachable", f"the connection to the upstream at {base} failed: {type(e).__name__}: {e}")


def status_error(resp_status: int, raw: bytes, base: str) -> UpstreamError:
    """The upstream answered with an error status: its 4xx keep their status, 5xx become 502.

    The upstream's own error text is logged, never passed on: nobody judged it (a model server's
    traceback, or a sentence an attacker placed there, would reach the client unchecked).
    """
    log.warning("upstream %s answered HTTP %s: %s", base, resp_status, raw[:500].decode("utf-8", "replace"))
    if 400 <= resp_status < 500:
        return UpstreamError(resp_status, "upstream_rejected", f"the upstream rejected the request (HTTP {resp_status}); "
                             "its message is in the proxy's log", type_="invalid_request_error")
    return UpstreamError(502, "upstream_status", f"the upstream at {base} failed with HTTP {resp_status}; "
                         "its message is in the proxy's log")


def malformed(base: str, what: str) -> UpstreamError:
    return UpstreamError(502, "upstream_malformed", f"the upstream at {base} sent a malformed answer: {what}")


class Upstream:
    """An async client for one OpenAI-compatible upstream (a connection pool shared by all requests)."""

    def __init__(self, config: ProxyConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.base = config.base
        t = httpx.Timeout(connect=config.connect_timeout_s, read=config.read_timeout_s,
                          write=config.read_timeout_s, pool=config.connect_timeout_s)
        self.client = httpx.AsyncClient(timeout=t, transport=transport or LeanTransport(), trust_env=False,
                                        limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200))

    async def aclose(self) -> None:
        await self.client.aclose()

    def _headers(self, client_auth: str | None) -> dict[str, str]:
        h = {"content-type": "application/json", "accept": "application/json"}
        if self.config.upstream_api_key:
            h["authorization"] = f"Bearer {self.config.upstream_api_key}"
        elif client_auth:
            h["authorization"] = client_auth
        return h

    @property
    def max_bytes(self) -> int:
        """The largest body read from the upstream: room for ``max_output_chars`` of escaped text."""
        return self.config.max_output_chars * 6 + (1 << 20)

    async def _read(self, method: str, path: str, client_auth: str | None, body: dict[str, Any] | None = None,
                    ) -> tuple[int, bytes]:
        """Status and body, the body read no further than :attr:`max_bytes` (then 502)."""
        raw = bytearray()
        try:
            async with self.client.stream(method, self.base + path, headers=self._headers(client_auth),
                                          content=None if body is None else json.dumps(body).encode()) as resp:
                async for chunk in resp.aiter_bytes():
                    raw += chunk
                    if len(raw) > self.max_bytes:
                        raise malformed(self.base, f"the answer is over {self.max_bytes:,} bytes, the most this proxy reads")
                return resp.status_code, bytes(raw)
        except httpx.HTTPError as e:
            raise transport_error(e, self.base) from None

    async def post_json(self, path: str, body: dict[str, Any], client_auth: str | None) -> dict[str, Any]:
        """POST and return the JSON object the upstream answers (UpstreamError otherwise)."""
        return self._json(*await self._read("POST", path, client_auth, body))

    async def get_json(self, path: str, client_auth: str | None) -> dict[str, Any]:
        return self._json(*await self._read("GET", path, client_auth))

    def _json(self, status: int, content: bytes) -> dict[str, Any]:
        if status >= 400:
            raise status_error(status, content, self.base)
        try:
            data = json.loads(content)
        except ValueError:
            raise malformed(self.base, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise malformed(self.base, f"expected a JSON object, got {type(data).__name__}")
        return data

    async def open_stream(self, path: str, body: dict[str, Any], client_auth: str | None) -> httpx.Response:
        """POST a streaming request; returns the open response once its status is known to be 2xx."""
        req = self.client.build_request("POST", self.base + path, content=json.dumps(body).encode(),
                                        headers={**self._headers(client_auth), "accept": "text/event-stream"})
        try:
            resp = await self.client.send(req, stream=True)
        except httpx.HTTPError as e:
            raise transport_error(e, self.base) from None
        if resp.status_code >= 400:
            try:
                raw = await resp.aread()
            except httpx.HTTPError:
                raw = b""
            finally:
                await resp.aclose()
            raise status_error(resp.status_code, raw, self.base)
        return resp


async def _lines(resp: httpx.Response, base: str, limit: int) -> AsyncIterator[str]:
    """The stream's lines (``\\n``, ``\\r\\n`` or ``\\r`` ends), none longer than ``limit`` bytes (then 502)."""
    buf = bytearray()
    scan = 0  # buf[:scan] holds no line end (each byte is searched once)
    async for chunk in resp.aiter_bytes():
        buf += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pos = 0
        while (i := buf.find(b"\n", max(pos, scan))) >= 0:
            yield bytes(buf[pos:i]).decode("utf-8", "replace")
            pos = i + 1
        if pos:
            del buf[:pos]
        scan = len(buf)
        if len(buf) > limit:
            raise malformed(base, f"a stream line over {limit:,} bytes")
    if buf:
        yield bytes(buf).decode("utf-8", "replace")


async def sse_events(resp: httpx.Response, base: str, limit: int = 8 << 20) -> AsyncIterator[dict[str, Any] | None]:
    """The JSON objects of an SSE stream; ``None`` marks ``[DONE]``. Raises UpstreamError on faults."""
    try:
        async for line in _lines(resp, base, limit):
            if not line or line.startswith(":"):
                continue
            if not line.startswith("data:"):
                if line.startswith(("event:", "id:", "retry:")):
                    continue
                raise malformed(base, f"unexpected line in the event stream: {line[:80]!r}")
            data = line[5:].strip()
            if data == "[DONE]":
                yield None
                return
            try:
                obj = json.loads(data)
            except ValueError:
                raise malformed(base, "a stream chunk is not JSON") from None
            if not isinstance(obj, dict):
                raise malformed(base, "a stream chunk is not a JSON object")
            if "error" in obj and "choices" not in obj:
                log.warning("upstream %s reported an error mid-stream: %s", base, str(obj["error"])[:500])
                raise UpstreamError(502, "upstream_status", "the upstream reported an error mid-stream; "
                                    "its message is in the proxy's log")
            yield obj
    except httpx.HTTPError as e:
        raise transport_error(e, base) from None
