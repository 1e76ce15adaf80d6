"""An in-process client that talks to the app from loopback, as a local operator would.

Without a token the app answers only requests that arrive on loopback from loopback; the
test client's default addresses (``testserver``/``testclient``) are neither.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

LOOPBACK = {"base_url": "http://127.0.0.1", "client": ("127.0.0.1", 50000)}


def loopback_client(app: Any, **kwargs: Any) -> TestClient:
    return TestClient(app, **LOOPBACK, **kwargs)
