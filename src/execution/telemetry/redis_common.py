"""What the Redis producer, collector and followers share.

* the lazy import (``redis`` is an optional dependency: ``pip install '.[scale]'``);
* connecting, with redis-py's own retries off (the callers own back-off and retry, so a
  pipeline is never silently re-sent and nothing blocks longer than one timeout);
* the wire format: each stream entry has one field, ``line``, holding the exact JSONL line
  :func:`~src.execution.serialization.encode_event_line` produces;
* URL redaction: a password in the URL never reaches a log line, a health report or an
  error message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import unquote, urlsplit

import orjson

from src.common.extras import MissingExtraError, missing_message
from src.execution.events import ExecutionEvent

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    "DEFAULT_STREAM",
    "DEFAULT_URL",
    "LINE_FIELD",
    "connect",
    "decode_line",
    "import_redis",
    "redact_url",
    "scrubber",
    "stream_entries",
    "transient_errors",
]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_STREAM = "execution:events"
LINE_FIELD = b"line"

#: An entry's id and its fields as redis-py returns them (bytes, or str when decoding).
EntryId: TypeAlias = bytes | str
EntryFields: TypeAlias = dict[bytes | str, object]


def import_redis(what: str = "the Redis backend") -> ModuleType:
    """Import redis-py, or raise ``ImportError`` saying which extra installs it."""
    try:
        import redis
    except ImportError:
        raise MissingExtraError(f"{what}: {missing_message('redis', 'scale')}") from None
    return redis


def connect(
    url: str,
    *,
    connect_timeout: float = 1.0,
    timeout: float | None = 2.0,
    client_name: str | None = None,
) -> Redis:
    """A ``redis.Redis`` for ``url``; connects lazily, on the first command."""
    redis = import_redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client: Redis = redis.Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        client_name=client_name,
    )
    return client


def transient_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "Redis is away for now": back off and try again."""
    redis = import_redis()
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


# -- secrets -----------------------------------------------------------------------------
_QUERY_SECRET = re.compile(r"((?:^|[?&;])password=)[^&;#]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its password (user-info or ``?password=``) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
            # "redis://secret@host" is a password without a user name in redis-py.
            netloc = f"{user}:***@{host}"
        query = _QUERY_SECRET.sub(r"\1***", parts.query)
        rebuilt = f"{parts.scheme}://{netloc}{parts.path}"
        return rebuilt + (f"?{query}" if query else "")
    except ValueError:
        return "<unparseable redis url>"


def _secrets_in(url: str) -> list[str]:
    found: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url] if url else []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        found.append(userinfo.split(":", 1)[1] if ":" in userinfo else userinfo)
    for match in re.finditer(r"(?:^|[&;])password=([^&;#]*)", parts.query, re.IGNORECASE):
        found.append(match.group(1))
    secrets = {s for s in found if s}
    secrets |= {unquote(s) for s in secrets}
    # Longest first, so a secret that contains another is replaced whole.
    return sorted((s for s in secrets if s), key=len, reverse=True)


def scrubber(url: str) -> Callable[[str], str]:
    """A function removing ``url``'s password from any text (error messages, reprs)."""
    secrets = _secrets_in(url)

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return scrub


# -- the wire format ---------------------------------------------------------------------
def decode_line(fields: Mapping[bytes | str, object]) -> tuple[bytes, ExecutionEvent]:
    """The JSONL line of a stream entry and the event it encodes.

    Raises ``ValueError`` (or ``KeyError``/``TypeError``) for an entry no producer of ours
    wrote; the caller decides what to do with it.
    """
    line = fields.get(LINE_FIELD)
    if line is None:
        line = fields.get(LINE_FIELD.decode())
    if line is None:
        raise ValueError(f"stream entry has no {LINE_FIELD.decode()!r} field")
    if isinstance(line, str):
        line = line.encode()
    if not isinstance(line, bytes):
        raise ValueError(f"stream entry's line is {type(line).__name__}, not text")
    data = orjson.loads(line)
    if not isinstance(data, dict):
        raise ValueError("stream entry's line is not a JSON object")
    return line, ExecutionEvent.from_dict(data)


def stream_entries(response: object) -> list[tuple[EntryId, EntryFields]]:
    """Flatten an XREAD / XREADGROUP / XAUTOCLAIM reply to ``[(entry_id, fields), ...]``.

    redis-py shapes these differently by version and protocol (a list of ``[stream,
    entries]`` pairs, or a dict keyed by stream, with or without an extra list level).
    An entry deleted by trimming while pending comes back with empty fields.
    """
    if not response:
        return []
    reply: Any = response  # its shape is only known at run time
    groups: Iterable[Any] = (
        reply.values() if isinstance(reply, Mapping) else (item[1] for item in reply)
    )
    out: list[tuple[EntryId, EntryFields]] = []
    for entries in groups:
        if (
            entries
            and isinstance(entries[0], list)
            and (not entries[0] or isinstance(entries[0][0], (tuple, list)))
        ):
            entries = entries[0]  # RESP3 in some redis-py versions: {stream: [entries]}
        for entry in entries or ():
            if entry is None or entry[0] is None:
                continue
            fields = entry[1]
            out.append((entry[0], dict(fields) if fields else {}))
    return out
