"""A small generic registry: name -> object, with lazy "module:attr" entries and "did you mean".

Every extensible thing in the project (tasks, models, assets, PET methods, schedules, LLM clients,
experiments) is a `Registry`, so `list` commands and error messages behave the same everywhere.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from thunlp_repro.shared.errors import RegistryKeyError

T = TypeVar("T")


def did_you_mean(key: str, choices: list[str]) -> str:
    """Return ' (did you mean X?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry(Generic[T]):
    """Maps lower-kebab keys to objects; entries can be lazy "package.module:attr" strings.

    Args:
        name: What the registry holds, used in error messages ("task", "model", ...).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[str, T | str] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(self, key: str, **meta: Any) -> Callable[[T], T]:
        """Decorator that registers an object under `key` (with optional metadata)."""

        def wrap(obj: T) -> T:
            self.add(key, obj, **meta)
            return obj

        return wrap

    def add(self, key: str, obj: T | str, *, replace: bool = False, **meta: Any) -> None:
        """Register `obj` (or a lazy "module:attr" string) under `key`."""
        if key in self._entries and not replace:
            raise ValueError(f"{self.name} '{key}' is already registered")
        self._entries[key] = obj
        self._meta[key] = meta

    def get(self, key: str) -> T:
        """Return the object for `key`, importing a lazy entry on first use.

        Raises:
            RegistryKeyError: unknown key; the message lists the known keys and the closest one.
        """
        if key not in self._entries:
            known = self.keys()
            raise RegistryKeyError(
                f"unknown {self.name} '{key}'{did_you_mean(key, known)}; "
                f"known: {', '.join(known) if known else '(none)'}"
            )
        entry = self._entries[key]
        if isinstance(entry, str) and ":" in entry:
            module, _, attr = entry.partition(":")
            entry = getattr(importlib.import_module(module), attr)
            self._entries[key] = entry
        return entry  # type: ignore[return-value]

    def meta(self, key: str) -> dict[str, Any]:
        """Metadata given at registration (empty dict if none)."""
        self.get(key)
        return dict(self._meta.get(key, {}))

    def keys(self) -> list[str]:
        """Registered keys, sorted."""
        return sorted(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._entries)
