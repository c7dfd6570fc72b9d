"""Loopback load test of the guard proxy: added latency over the upstream, and memory over many requests.

Three processes on 127.0.0.1: a minimal OpenAI-compatible upstream (raw asyncio, so it costs
little), ``accord serve`` in front of it (a real SQLite audit store), and this load generator
(raw asyncio HTTP/1.1 keep-alive clients, so the client costs little too). For 1, 10 and 100
concurrent clients, streaming and not, it times the same requests sent to the upstream directly
and through the proxy, and prints p50/p99 of each and the difference (the proxy's added latency).
Then it sends 100,000 requests through the proxy and reports the proxy's memory (RSS) before and
after, and its CPU time per request (which is what sets latency once the cores are saturated).

Bounded in count and time; prints figures, asserts nothing. Usage::

    python bench/proxy_load.py                 # rules-only gate (the default for figures)
    python bench/proxy_load.py --model         # with the packaged value model
    python bench/proxy_load.py --quick         # fewer requests, to try it out
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# ---------------------------------------------------------------------- the upstream (raw asyncio)
SENTENCES = ["Hello there. ", "The capital of France is Paris. ", "It is known for the Eiffel Tower. ",
             "Paris has many museums. ", "Enjoy your visit."]
CONTENT = "".join(SENTENCES)


def _completion() -> bytes:
    return json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": CONTENT},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 30, "total_tokens": 40}}).encode()


def _stream() -> bytes:
    def chunk(delta: dict, fr: str | None = None) -> bytes:
        return b"data: " + json.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
                                       "model": "bench", "choices": [{"index": 0, "delta": delta,
                                                                      "finish_reason": fr}]}).encode() + b"\n\n"
    parts = [chunk({"role": "assistant", "content": ""})]
    words = re.findall(r"\S+\s*", CONTENT)
    parts += [chunk({"content": w}) for w in words]  # one chunk per word, like a token stream
    parts += [chunk({}, "stop"), b"data: [DONE]\n\n"]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


class _Upstream(asyncio.Protocol):
    COMPLETION = _completion()
    STREAM = _stream()
    MODELS = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}).encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return
            head = self.buf[:i].decode("latin-1")
            m = re.search(r"(?im)^content-length:\s*(\d+)", head)
            n = int(m.group(1)) if m else 0
            if len(self.buf) < i + 4 + n:
                return
            body, self.buf = self.buf[i + 4:i + 4 + n], self.buf[i + 4 + n:]
            if head.startswith("GET"):
                self._send(b"application/json", self.MODELS)
            elif b'"stream": true' in body or b'"stream":true' in body:
                self.t.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                             + self.STREAM)
            else:
                self._send(b"application/json", self.COMPLETION)

    def _send(self, ctype: bytes, body: bytes) -> None:
        self.t.write(b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (ctype, len(body), body))


def run_upstream(port: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Upstream, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---------------------------------------------------------------------- the load generator
def _request(stream: bool) -> bytes:
    body = json.dumps({"model": "bench", "stream": stream,
                       "messages": [{"role": "user", "content": "What is the capital of France?"}]}).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if m:
        return status, await reader.readexactly(int(m.group(1)))
    body = b""
    while True:  # chunked
        size = int((await reader.readline()).strip(), 16)
        if size == 0:
            await reader.readline()
            return status, body
        body += await reader.readexactly(size + 2)


async def load(port: int, *, clients: int, requests: int, stream: bool, seconds: float) -> dict:
    """``requests`` requests from ``clients`` keep-alive connections; latencies in ms."""
    req = _request(stream)
    lat: list[float] = []
    bad = [0]
    left = [requests]
    deadline = time.monotonic() + seconds

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while left[0] > 0 and time.monotonic() < deadline:
                left[0] -= 1
                t0 = time.perf_counter()
                writer.write(req)
                status, body = await _read_response(reader)
                lat.append((time.perf_counter() - t0) * 1000)
                if status != 200 or b"content_filter" in body or (stream and b"[DONE]" not in body):
                    bad[0] += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(clients)))
    wall = time.perf_counter() - t0
    lat.sort()
    return {"n": len(lat), "bad": bad[0], "rps": len(lat) / wall if wall else 0.0,
            "p50": _pct(lat, 50), "p99": _pct(lat, 99)}


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


# ---------------------------------------------------------------------- processes and measurements
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _metric_means(port: int) -> dict[str, float]:
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for name in ("accord_judge_seconds", "accord_upstream_seconds"):
        s = sum(float(v) for v in re.findall(rf"^{name}_sum{{[^}}]*}} (\S+)", text, re.M))
        c = sum(float(v) for v in re.findall(rf"^{name}_count{{[^}}]*}} (\S+)", text, re.M))
        out[name] = s / c * 1000 if c else float("nan")
    decisions = re.findall(r'^accord_decisions_total{decision="(\w+)",principle="[^"]*",stage="(\w+)"} (\S+)', text, re.M)
    for d, stage, n in decisions:
        out[f"{stage}:{d}"] = out.get(f"{stage}:{d}", 0) + float(n)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=["bench", "upstream"], default="bench")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--model", action="store_true", help="judge with the packaged value model too (default: rules only)")
    ap.add_argument("--quick", action="store_true", help="a short run (about a tenth of the requests)")
    ap.add_argument("--soak", type=int, default=100_000, help="requests for the memory measurement")
    ap.add_argument("--soak-seconds", type=float, default=300, help="time cap of the memory measurement")
    ap.add_argument("--stream-window", type=int, default=1)
    a = ap.parse_args()
    if a.role == "upstream":
        with contextlib.suppress(KeyboardInterrupt):
            run_upstream(a.port)
        return

    scale = 0.1 if a.quick else 1.0
    soak = int(a.soak * scale)
    up_port, px_port = _free_port(), _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen([sys.executable, __file__, "--role", "upstream", "--port", str(up_port)]))
        cmd = [sys.executable, "-c", "from accord.cli.main import main; main()", "serve",
               "--upstream", f"http://127.0.0.1:{up_port}/v1", "--port", str(px_port),
               "--db", f"sqlite:///{tmp / 'bench.db'}", "--log-level", "warning",
               "--stream-window", str(a.stream_window)]
        if not a.model:
            cmd.append("--no-model")
        procs.append(subprocess.Popen(cmd, stderr=subprocess.DEVNULL))
        _wait_port(up_port)
        _wait_port(px_port)
        proxy_pid = procs[1].pid
        import uvicorn

        print(f"# accord proxy load test · {platform.python_implementation()} {platform.python_version()} · "
              f"{os.cpu_count()} cores · uvicorn {uvicorn.__version__} (loop/http: auto → "
              f"{'uvloop' if _has('uvloop') else 'asyncio'}/{'httptools' if _has('httptools') else 'h11'}) · "
              f"gate: {'rules + value model' if a.model else 'rules only'} · stream window {a.stream_window} · "
              f"load average before: {os.getloadavg()[0]:.1f}")
        asyncio.run(load(px_port, clients=10, requests=int(2000 * scale) or 200, stream=False, seconds=60))  # warm-up
        asyncio.run(load(px_port, clients=10, requests=int(500 * scale) or 50, stream=True, seconds=60))
        asyncio.run(load(up_port, clients=10, requests=500, stream=False, seconds=30))

        print("\n| clients | mode | direct p50 | direct p99 | proxy p50 | proxy p99 | added p50 | added p99 | proxy req/s | failures |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        plan = {1: 1000, 10: 3000, 100: 6000}
        for clients, n in plan.items():
            n = max(100, int(n * scale))
            for stream in (False, True):
                d = asyncio.run(load(up_port, clients=clients, requests=n, stream=stream, seconds=60))
                p = asyncio.run(load(px_port, clients=clients, requests=n, stream=stream, seconds=90))
                print(f"| {clients} | {'stream' if stream else 'json'} | {d['p50']:.2f} | {d['p99']:.2f} | "
                      f"{p['p50']:.2f} | {p['p99']:.2f} | {p['p50'] - d['p50']:.2f} | {p['p99'] - d['p99']:.2f} | "
                      f"{p['rps']:.0f} | {p['bad'] + d['bad']} |", flush=True)

        # memory over many requests (4 in 5 plain, 1 in 5 streamed), and CPU per request
        time.sleep(1)
        rss0, cpu0 = _rss_mb(proxy_pid), _cpu_s(proxy_pid)
        t0 = time.monotonic()
        done = bad = 0
        per_round = 5000
        while done < soak and time.monotonic() - t0 < a.soak_seconds:
            k = min(per_round, soak - done)
            left = a.soak_seconds - (time.monotonic() - t0)
            r1 = asyncio.run(load(px_port, clients=50, requests=k * 4 // 5, stream=False, seconds=left))
            r2 = asyncio.run(load(px_port, clients=50, requests=k - k * 4 // 5, stream=True, seconds=left))
            done += r1["n"] + r2["n"]
            bad += r1["bad"] + r2["bad"]
        wall = time.monotonic() - t0
        time.sleep(2)  # let the audit writer drain
        rss1, cpu1 = _rss_mb(proxy_pid), _cpu_s(proxy_pid)
        m = _metric_means(px_port)
        print(f"\nmemory: proxy RSS {rss0:.1f} MiB before, {rss1:.1f} MiB after {done:,} requests "
              f"({done / wall:.0f} req/s over {wall:.0f} s, 50 clients, {bad} failures)")
        print(f"CPU: {(cpu1 - cpu0) / max(done, 1) * 1000:.2f} ms of proxy CPU per request (all threads: "
              f"HTTP in and out, JSON, judging, SQLite audit writes)")
        print(f"inside the proxy (means over the whole run): waiting for the judge {m['accord_judge_seconds']:.2f} ms "
              f"per judgment, upstream answer {m['accord_upstream_seconds']:.2f} ms")
        dec = {k: int(v) for k, v in m.items() if ":" in k}
        print(f"decisions: {dec}")
        print(f"load average after: {os.getloadavg()[0]:.1f} (other work on the machine skews every figure)")
        db = tmp / "bench.db"
        if db.exists():
            print(f"audit store: {db.stat().st_size / 2**20:.0f} MiB for the run")
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGINT)
        for p in reversed(procs):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def _has(mod: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(mod) is not None


if __name__ == "__main__":
    main()
