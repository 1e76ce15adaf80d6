"""Small shared mechanisms with no knowledge of events, usable by every layer: no imports
from the rest of ``src`` (see docs/architecture.md)."""
