"""The generic registry: lazy entries and "did you mean"."""

from __future__ import annotations

import pytest

from thunlp_repro.shared.errors import RegistryKeyError, UsageError
from thunlp_repro.shared.registry import Registry


def test_register_get_and_lazy_entries():
    reg: Registry = Registry("widget")

    @reg.register("lower-kebab", size=3)
    def make():
        return 1

    reg.add("lazy", "json:dumps")
    assert reg.get("lower-kebab") is make and reg.meta("lower-kebab") == {"size": 3}
    import json

    assert reg.get("lazy") is json.dumps
    assert reg.keys() == ["lazy", "lower-kebab"] and "lazy" in reg and len(reg) == 2
    with pytest.raises(ValueError, match="already registered"):
        reg.add("lazy", "x:y")


def test_unknown_key_lists_known_and_suggests():
    reg: Registry = Registry("task")
    reg.add("sent-movie", 1)
    reg.add("sent-tweet", 2)
    with pytest.raises(RegistryKeyError) as err:
        reg.get("sent-movei")
    msg = str(err.value)
    assert "unknown task 'sent-movei'" in msg and "did you mean 'sent-movie'" in msg
    assert "known: sent-movie, sent-tweet" in msg
    assert isinstance(err.value, UsageError)
