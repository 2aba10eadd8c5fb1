"""What a design-log entry is: a timestamp, an action type, a brief description, ordered fields.

Any UPPER_SNAKE_CASE name is an action type: the specification's nine (listed with their usual
fields in :mod:`.spec`, which builds on this module) or a custom one (``VERIFY_EVAL_TASK``,
``CALCULATE_DISK``). This module knows nothing of files, IPython or widgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .exceptions import DesignLogError

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

ACTION_NAME_RE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
# A field name: starts with a letter, then letters, digits, spaces, _ - / ( ) .
FIELD_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9 _/().\-]{0,47}")


class EntryError(DesignLogError, ValueError):
    """An entry that cannot be written: bad action type, bad field name."""


def validate_action(action: str) -> str:
    """Return ``action`` if it is UPPER_SNAKE_CASE, else raise ``EntryError`` saying why."""
    if not isinstance(action, str) or not ACTION_NAME_RE.fullmatch(action):
        raise EntryError(
            f"invalid action type {action!r}: use UPPER_SNAKE_CASE such as VERIFY_MODEL "
            f"or a custom one such as VERIFY_EVAL_TASK"
        )
    return action


def validate_field_name(name: str) -> str:
    """Return ``name`` if it can stand before ``:`` on a line of its own, else raise."""
    if not isinstance(name, str) or not FIELD_NAME_RE.fullmatch(name) or name != name.rstrip():
        raise EntryError(
            f"invalid field name {name!r}: start with a letter, then letters, digits, "
            f"spaces, _ - / ( ) . (at most 48 characters, no trailing space)"
        )
    return name


def field_name(keyword: str) -> str:
    """``next_steps`` -> ``Next Steps``: Python keyword arguments to the log's field names."""
    if "_" not in keyword and keyword[:1].isupper():
        return keyword
    return " ".join(part.capitalize() for part in keyword.split("_") if part)


def now() -> datetime:
    """The writer's local time, to the second (the log's resolution)."""
    return datetime.now().replace(microsecond=0)


@dataclass(frozen=True)
class Entry:
    """One log entry. Fields keep their order; a name may repeat (hand-written logs do)."""

    timestamp: datetime
    action: str
    brief: str = ""
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        validate_action(self.action)
        if self.timestamp.microsecond or self.timestamp.tzinfo is not None:
            object.__setattr__(
                self, "timestamp", self.timestamp.replace(microsecond=0, tzinfo=None)
            )
        if not isinstance(self.brief, str):
            raise EntryError(f"brief must be text, not {type(self.brief).__name__}")
        pairs = tuple((str(k), str(v)) for k, v in self.fields)
        for key, _ in pairs:
            validate_field_name(key)
        object.__setattr__(self, "fields", pairs)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of field ``key``."""
        for name, value in self.fields:
            if name == key:
                return value
        return default

    def get_all(self, key: str) -> list[str]:
        return [value for name, value in self.fields if name == key]

    @property
    def time_text(self) -> str:
        return self.timestamp.strftime(TIMESTAMP_FORMAT)

    @property
    def failed(self) -> bool:
        """True when the entry records a failure.

        Either dialect: a ``Result:`` that begins with failed, failure, error, missing or not
        found (``Result: failure``, ``Result: failure: sbatch error``, ``Result: Failed: exit
        2``), or an ``Error:`` field, unless the ``Result:`` is a warning: the upstream dialect
        writes ``Error:`` with ``Result: warning`` too, and that entry warned, not failed.
        ``Result: success``, ``tracked`` or ``done`` is no failure.
        """
        result = (self.get("Result") or "").strip().lower()
        if result.startswith(("failed", "failure", "error", "missing", "not found")):
            return True
        return self.get("Error") is not None and not result.startswith("warning")

    @property
    def warned(self) -> bool:
        """True when the entry records a warning: a ``Warning:`` field, or a ``Result:`` that
        begins with warning (``Result: warning``, ``Result: Warning: only 3G free``)."""
        if self.get("Warning") is not None:
            return True
        return (self.get("Result") or "").strip().lower().startswith("warning")

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (used by records, the command line and the audit)."""
        return {
            "timestamp": self.time_text,
            "action": self.action,
            "brief": self.brief,
            "fields": [[k, v] for k, v in self.fields],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Entry:
        fields_data = data.get("fields") or []
        assert isinstance(fields_data, list)
        return cls(
            datetime.strptime(str(data["timestamp"]), TIMESTAMP_FORMAT),
            str(data["action"]),
            str(data.get("brief", "")),
            tuple((str(k), str(v)) for k, v in fields_data),
        )


def new_entry(
    action: str,
    brief: str = "",
    fields: Mapping[str, object] | Iterable[tuple[str, object]] | None = None,
    *,
    timestamp: datetime | None = None,
    **keyword_fields: object,
) -> Entry:
    """Build an entry stamped now. Fields come as pairs, a mapping, or keywords.

    Keyword names are turned into field names (``next_steps=`` becomes ``Next Steps:``).
    Values of ``None`` are left out, so optional fields can be passed unconditionally.
    """
    pairs: list[tuple[str, str]] = []
    items = fields.items() if isinstance(fields, Mapping) else (fields or ())
    for key, value in items:
        if value is not None:
            pairs.append((key, str(value)))
    for key, value in keyword_fields.items():
        if value is not None:
            pairs.append((field_name(key), str(value)))
    return Entry(timestamp or now(), validate_action(action), brief, tuple(pairs))
