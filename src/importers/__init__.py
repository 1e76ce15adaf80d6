"""Importing events written by other systems (CSV, JSON lines) into this project's schema.

``sources`` reads rows with their line numbers, ``normalize`` maps another system's names,
values and times onto :class:`~src.execution.events.ExecutionEvent`, ``run`` writes the
result into a log root as whole sessions.
"""

from src.importers.normalize import RowError, normalize, parse_time
from src.importers.run import ImportResult, SessionExistsError, import_file
from src.importers.sources import format_of

__all__ = [
    "ImportResult",
    "RowError",
    "SessionExistsError",
    "format_of",
    "import_file",
    "normalize",
    "parse_time",
]
