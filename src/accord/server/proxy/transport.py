"""A lean HTTP/1.1 keep-alive transport for httpx, for the proxy's one upstream.

Why: httpx's default pool (httpcore on anyio) checks every idle connection with system calls
(``poll``, ``getpeername``) on every request; with 100 concurrent clients that is hundreds of
calls per request, and it dominated the proxy's CPU time in the load test. This transport keeps
idle connections in a list and knows a dead one without a system call (asyncio has already seen
its EOF). It speaks only what an OpenAI-compatible upstream needs: HTTP/1.1 over TCP or TLS,
``Content-Length``, ``chunked`` or read-to-close bodies, streaming responses.

Failures are raised as httpx's own exceptions (``ConnectError``, ``ConnectTimeout``,
``ReadTimeout``, ``WriteTimeout``, ``RemoteProtocolError``, ``ReadError``), so callers map them
exactly as with the default transport.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx

_Key = tuple[str, str, int]


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @property
    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing() and not self.reader._buffer  # type: ignore[attr-defined]

    def close(self) -> None:
        self.writer.close()


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with a simple keep-alive pool (``max_idle`` connections per host)."""

    def __init__(self, *, max_idle: int = 256, verify: bool | ssl.SSLContext = True) -> None:
        self.max_idle = max_idle
        self._idle: dict[_Key, list[_Conn]] = {}
        if isinstance(verify, ssl.SSLContext):
            self._ssl: ssl.SSLContext = verify
        else:
            self._ssl = ssl.create_default_context()
            if not verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.close()
        self._idle.clear()

    # ------------------------------------------------------------------ connections
    async def _connect(self, key: _Key, timeout: float | None) -> _Conn:
        scheme, host, port = key
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self._ssl if scheme == "https" else None,
                                        server_hostname=host if scheme == "https" else None, limit=1 << 20),
                timeout)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as e:
            raise httpx.ConnectError(str(e) or type(e).__name__) from None
        return _Conn(reader, writer)

    def _take(self, key: _Key) -> _Conn | None:
        conns = self._idle.get(key)
        while conns:
            c = conns.pop()
            if c.usable:
                return c
            c.close()
        return None

    def _give(self, key: _Key, conn: _Conn) -> None:
        conns = self._idle.setdefault(key, [])
        if len(conns) < self.max_idle and conn.usable:
            conns.append(conn)
        else:
            conn.close()

    # ------------------------------------------------------------------ a request
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {scheme!r}")
        key: _Key = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        t: dict[str, Any] = request.extensions.get("timeout") or {}
        body = request.content if hasattr(request, "_content") else await request.aread()
        target = url.raw_path.decode("ascii")
        head = [f"{request.method} {target} HTTP/1.1\r\n".encode("ascii")]
        for k, v in request.headers.raw:
            head.append(k + b": " + v + b"\r\n")
        head.append(b"\r\n")
        payload = b"".join(head) + body

        for attempt in (0, 1):
            conn = self._take(key)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(key, t.get("connect"))
            try:
                conn.writer.write(payload)
                try:
                    await asyncio.wait_for(conn.writer.drain(), t.get("write"))
                except TimeoutError:
                    raise httpx.WriteTimeout("writing the request timed out") from None
                status, headers = await self._read_head(conn, t.get("read"), reused and attempt == 0)
            except _Stale:
                conn.close()
                continue  # the server had closed the idle connection before reading: retry once, fresh
            except BaseException:
                conn.close()
                raise
            return httpx.Response(status, headers=headers,
                                  stream=_Body(self, key, conn, headers, t.get("read"), request.method == "HEAD" or status in (204, 304)),
                                  extensions={"http_version": b"HTTP/1.1"})
        raise httpx.RemoteProtocolError("the upstream closed the connection without a response")

    async def _read_head(self, conn: _Conn, timeout: float | None, may_be_stale: bool) -> tuple[int, list[tuple[bytes, bytes]]]:
        try:
            raw = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("the upstream sent no response in time") from None
        except asyncio.IncompleteReadError as e:
            if may_be_stale and not e.partial:
                raise _Stale() from None
            raise httpx.RemoteProtocolError("the upstream closed the connection mid-response") from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError("response headers too large") from None
        except OSError as e:
            if may_be_stale:
                raise _Stale() from None
            raise httpx.ReadError(str(e) or type(e).__name__) from None
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"not an HTTP/1.1 status line: {lines[0][:60]!r}")
        headers = []
        for line in lines[1:]:
            k, sep, v = line.partition(b":")
            if not sep:
                raise httpx.RemoteProtocolError("malformed response header")
            headers.append((k.strip(), v.strip()))
        status = int(parts[1])
        if 100 <= status < 200:  # 1xx: skip to the real answer
            return await self._read_head(conn, timeout, False)
        return status, headers


class _Stale(Exception):
    pass


class _Body(httpx.AsyncByteStream):
    """The response body; the connection goes back to the pool once the body is fully read."""

    def __init__(self, transport: LeanTransport, key: _Key, conn: _Conn, headers: list[tuple[bytes, bytes]],
                 timeout: float | None, empty: bool) -> None:
        self.t = transport
        self.key = key
        self.conn: _Conn | None = conn
        self.timeout = timeout
        h = {k.lower(): v for k, v in headers}
        self.keep_alive = h.get(b"connection", b"").lower() != b"close"
        self.length: int | None = None
        self.chunked = False
        if empty:
            self.length = 0
        elif b"chunked" in h.get(b"transfer-encoding", b"").lower():
            self.chunked = True
        elif b"content-length" in h:
            try:
                self.length = int(h[b"content-length"])
            except ValueError:
                raise httpx.RemoteProtocolError("bad Content-Length") from None
        else:
            self.keep_alive = False  # read to close

    async def _read(self, coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, self.timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("the upstream went silent") from None
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError("the upstream closed the connection mid-body") from None
        except (asyncio.LimitOverrunError, ValueError):
            raise httpx.RemoteProtocolError("malformed chunked body") from None
        except OSError as e:
            raise httpx.ReadError(str(e) or type(e).__name__) from None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self.conn
        if conn is None:
            return
        r = conn.reader
        if self.length is not None:
            left = self.length
            while left > 0:
                data = await self._read(r.read(min(left, 1 << 16)))
                if not data:
                    raise httpx.RemoteProtocolError("the upstream closed the connection mid-body")
                left -= len(data)
                yield data
        elif self.chunked:
            while True:
                line = await self._read(r.readuntil(b"\r\n"))
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise httpx.RemoteProtocolError("malformed chunk size") from None
                if size == 0:
                    while (await self._read(r.readuntil(b"\r\n"))) != b"\r\n":
                        pass  # trailers
                    break
                data = await self._read(r.readexactly(size + 2))
                if data[-2:] != b"\r\n":
                    raise httpx.RemoteProtocolError("malformed chunked body")
                yield data[:-2]
        else:
            while True:
                data = await self._read(r.read(1 << 16))
                if not data:
                    break
                yield data
        self.conn = None
        if self.keep_alive:
            self.t._give(self.key, conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        if self.conn is not None:  # not read to the end: the connection cannot be reused
            self.conn.close()
            self.conn = None
