"""Type aliases for free-form, JSON-ready data (payloads, health reports, stats).

A payload's keys are strings; its values are whatever the event kind carries, so they are
typed ``object`` and readers narrow them (``isinstance``) before use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

__all__ = ["JsonObject", "JsonValue", "Payload"]

#: One decoded JSON value (str, int, float, bool, None, list or dict): typed ``object`` so
#: that every reader narrows it (``isinstance``) before use, never ``Any``.
JsonValue: TypeAlias = object
#: A payload as an emitter or reader sees it: read-only, string keys, any JSON-ready values.
Payload: TypeAlias = Mapping[str, JsonValue]
#: A JSON-ready object built by us (a health report, a record): a plain mutable dict.
JsonObject: TypeAlias = dict[str, JsonValue]
