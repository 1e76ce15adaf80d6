"""Which directories may be treated as a telemetry root (and so have files deleted in them).

The runbook's rule, by path component rather than substring: the real path (symlinks
resolved) must have a component named ``execution``, ``telemetry`` or ``logs``. So
``/srv/app/logs/execution`` qualifies; ``/var/log``, ``/home/u/blog`` and ``/data/catalog`` do
not. On top of that, ``/``, the home directory and its ancestors, and system directories are
refused whatever their names.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MARKERS", "UnsafeRootError", "validate_root"]

MARKERS = frozenset({"execution", "telemetry", "logs"})

# Refused as the root itself.
_SYSTEM_DIRS = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/var",
        "/var/lib",
        "/var/log",
        "/var/tmp",
        "/private",
        "/private/tmp",
        "/private/var",
        "/Users",
        "/System",
        "/Library",
        "/Applications",
        "/Volumes",
    }
)
# Refused as the root or anywhere below.
_NEVER_BELOW = ("/proc", "/sys", "/dev", "/boot", "/etc", "/bin", "/sbin", "/lib", "/usr")


class UnsafeRootError(ValueError):
    """The directory may not be used as a telemetry root; the message says why."""

    def __init__(self, root: object, why: str) -> None:
        super().__init__(f"Unsafe or invalid telemetry root {str(root)!r}: {why}")


def validate_root(root: str | os.PathLike[str], *, home: Path | None = None) -> Path:
    """Return the real path of ``root`` if it is a safe telemetry root, else raise.

    Raises :class:`UnsafeRootError` naming the root and the reason.
    """
    text = os.fspath(root)
    if not str(text).strip():
        raise UnsafeRootError(text, "empty path")
    try:
        real = Path(text).resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnsafeRootError(text, "does not exist") from None
    if not real.is_dir():
        raise UnsafeRootError(text, "not a directory")
    home = (home or Path.home()).resolve()
    shown = f" ({real})" if str(real) != str(text) else ""
    if real == Path(real.anchor):
        raise UnsafeRootError(text, f"the filesystem root{shown}")
    if str(real) in _SYSTEM_DIRS:
        raise UnsafeRootError(text, f"a system directory{shown}")
    for top in _NEVER_BELOW:
        if real.is_relative_to(top):
            raise UnsafeRootError(text, f"inside the system directory {top}{shown}")
    if real == home or real in home.parents:
        raise UnsafeRootError(text, f"the home directory or one of its parents{shown}")
    if not any(part.lower() in MARKERS for part in real.parts[1:]):
        raise UnsafeRootError(text, f"no path component named execution, telemetry or logs{shown}")
    return real
