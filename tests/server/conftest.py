"""Fixtures for the proxy: a real scripted upstream and proxies on 127.0.0.1, free ports, stopped after use."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from proxy_helpers import Proxy, rules_gate

from accord.gate.gate import Gate
from accord.server.proxy import MemorySinks, ProxyConfig, create_app
from accord.server.proxy.keys import KeyStore
from accord.server.proxy.testing import scripted_upstream, serve_in_thread


@pytest.fixture(scope="session")
def upstream() -> Iterator[tuple[str, Any]]:
    """The scripted upstream: (its /v1 base URL, its app with ``state.requests``)."""
    app = scripted_upstream()
    with serve_in_thread(app) as url:
        yield url + "/v1", app


@pytest.fixture(scope="session")
def start_proxy(upstream) -> Iterator[Callable[..., contextlib.AbstractContextManager[Proxy]]]:
    """Start a proxy (a context manager) with a gate and config overrides; the server stops on exit."""

    @contextlib.contextmanager
    def start(gate: Gate | None = None, keys: KeyStore | None = None, **config: Any) -> Iterator[Proxy]:
        sinks = MemorySinks()
        cfg = ProxyConfig(**{"upstream": upstream[0], **config})
        app = create_app(cfg, gate or rules_gate(), sinks=sinks, keys=keys)
        with serve_in_thread(app) as url:
            yield Proxy(url + "/v1", app, sinks)
        app.state.writer.close()
        app.state.guard.close()

    yield start


@pytest.fixture(scope="session")
def proxy(start_proxy) -> Iterator[Proxy]:
    """One shared proxy with the default charter's rules."""
    with start_proxy() as p:
        yield p


@pytest.fixture
def client(proxy):
    from openai import OpenAI

    with OpenAI(base_url=proxy.url, api_key="sk-test", max_retries=0, timeout=20) as c:
        yield c
