"""A small named registry with error messages that list the known names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from workbench.errors import BadInput

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → entry; public so users can add their own datasets, models and optimizers."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Register `entry` under `name` (case-insensitive); `replace` allows overriding."""
        key = name.lower()
        if key in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered (pass replace=True)")
        self._entries[key] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry for `name`, or `BadInput` listing the known names."""
        if not isinstance(name, str):
            raise BadInput(f"{self.kind}: expected a name, got {name!r}")
        try:
            return self._entries[name.lower()]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise BadInput(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, sorted by name."""
        return [(k, self._entries[k]) for k in self.names()]
