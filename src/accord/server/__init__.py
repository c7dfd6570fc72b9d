"""accord's HTTP face: the OpenAI-compatible guard proxy, the check API, metrics (and the review UI).

Importing this package is cheap; the FastAPI application is built by :func:`create_app`, which
is imported on first use so ``accord.server.review`` and the CLI do not pay for the proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from accord.server.proxy import MemorySinks, ProxyConfig, Sinks, create_app

__all__ = ["MemorySinks", "ProxyConfig", "Sinks", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from accord.server import proxy

        return getattr(proxy, name)
    raise AttributeError(f"module 'accord.server' has no attribute {name!r}")
