"""One plugin mechanism: a named registry per kind of plugin, filled from Python entry points.

Judges, encoders, mutations and targets are each a :class:`Registry` over one entry-point group:

=====================  ===================================================================
group                  what the entry point names
=====================  ===================================================================
``accord.judges``      a judge factory, called with the judge's options (``path=...``)
``accord.encoders``    an encoder factory, called with no argument
``accord.mutations``   a rewrite ``fn(prompt, rng) -> prompt``; its docstring's first line describes it
``accord.targets``     a target factory, called with what follows ``scheme:`` in a target spec
=====================  ===================================================================

accord declares its own built-ins in its ``pyproject.toml`` under these groups, and a third-party
package adds one the same way, in its own ``pyproject.toml``::

    [project.entry-points."accord.judges"]
    toxicity = "my_package.judges:ToxicityJudge"

Nothing is registered as a side effect of importing a module: a name's entry point is loaded (its
module imported) the first time the name is asked for. A program may also register an object
directly (:meth:`Registry.register`, or the ``register_judge``-style function of each kind); a
registered object takes precedence over an entry point of the same name. An unknown name is a
:class:`~accord.errors.RegistryError` that names the kind, the name, the names available and the
entry-point group that would provide it. ``accord plugins list`` shows every registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from accord.errors import AccordError, RegistryError

T = TypeVar("T")

#: every entry-point group accord reads, in the order ``accord plugins list`` shows them
GROUPS = ("accord.judges", "accord.encoders", "accord.mutations", "accord.targets")


class Registry(Generic[T]):
    """Named plugins of one kind: objects registered by a program, then the group's entry points.

    Args:
        group: the entry-point group (``accord.judges``).
        kind: what one plugin is called in messages (``judge``).
        adapt: turns a loaded or registered object into what the registry holds (for mutations,
            a function into a named ``Mutation``); called with the name and the object.
    """

    def __init__(self, group: str, kind: str, adapt: Callable[[str, Any], T] | None = None) -> None:
        self.group = group
        self.kind = kind
        self._adapt: Callable[[str, Any], T] = adapt or _identity
        self._objects: dict[str, T] = {}
        self._entry_points: dict[str, EntryPoint] | None = None
        self._lock = threading.Lock()

    def register(self, name: str, obj: Any) -> None:
        """Add (or replace) a plugin under ``name``, ahead of any entry point of that name."""
        self._objects[name] = self._adapt(name, obj)

    def unregister(self, name: str) -> None:
        """Forget a registered (or already loaded) plugin; a declared entry point stays available."""
        self._objects.pop(name, None)

    def loaded(self) -> list[str]:
        """The names registered or loaded in this process so far (the rest are entry points not yet imported)."""
        return sorted(self._objects)

    def entry_points(self) -> dict[str, EntryPoint]:
        """The group's entry points by name, read from the installed packages once."""
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        """Every name available, registered or declared, without loading any."""
        return sorted(set(self._objects) | set(self.entry_points()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._objects or name in self.entry_points())

    def origin(self, name: str) -> tuple[str, str]:
        """Where a name comes from: ``(module:attribute, package)`` of its entry point, or
        ``("registered", "")`` for an object a program registered."""
        if name in self._objects and name not in self.entry_points():
            return "registered", ""
        ep = self.entry_points().get(name)
        if ep is None:
            raise self.unknown(name)
        dist = getattr(ep, "dist", None)
        return ep.value, dist.name if dist is not None else ""

    def get(self, name: str) -> T:
        """The plugin named ``name``, loading its entry point the first time; an unknown name raises
        :meth:`unknown`, an entry point that cannot be imported a :class:`RegistryError` naming it."""
        hit = self._objects.get(name)
        if hit is not None:
            return hit
        ep = self.entry_points().get(name)
        if ep is None:
            raise self.unknown(name)
        with self._lock:
            if name not in self._objects:
                try:
                    obj = ep.load()
                except AccordError:
                    raise
                except Exception as e:  # an ImportError, or a plugin whose module fails on import
                    raise RegistryError(f"{self.kind} {name!r} cannot be loaded from entry point {ep.value!r} "
                                        f"(group {self.group!r}): {type(e).__name__}: {e}") from None
                self._objects[name] = self._adapt(name, obj)
            return self._objects[name]

    def unknown(self, name: str, message: str | None = None) -> RegistryError:
        """The error for a name this registry does not have: the name, what is available, the group."""
        text = message or f"unknown {self.kind} {name!r}; available: {', '.join(self.names()) or 'none'}"
        return RegistryError(f"{text} (entry-point group {self.group!r})",
                             hint=f"a package adds a {self.kind} with an entry point in the {self.group!r} group "
                                  "(`accord plugins list` shows what is installed)")

    def reload(self) -> None:
        """Read the group's entry points again (after installing a package in the same process)."""
        self._entry_points = None


def _identity(name: str, obj: Any) -> Any:
    return obj
