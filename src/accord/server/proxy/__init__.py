"""The guard proxy: an OpenAI-compatible endpoint that judges every request, response and tool call.

Point any OpenAI client's ``base_url`` at ``accord serve`` and every exchange is judged against the
charter, audited, and where needed withheld or sent to a person. See ``docs/proxy.md``.
"""

from accord.server.proxy.app import create_app
from accord.server.proxy.config import ProxyConfig
from accord.server.proxy.keys import KeyInfo, KeyStore, MemoryEventLog, StoreEventLog
from accord.server.proxy.sinks import AuditWriter, MemorySinks, Sinks, StoreSinks

__all__ = [
    "AuditWriter",
    "KeyInfo",
    "KeyStore",
    "MemoryEventLog",
    "MemorySinks",
    "ProxyConfig",
    "Sinks",
    "StoreEventLog",
    "StoreSinks",
    "create_app",
]
