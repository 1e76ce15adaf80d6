"""A real Prometheus (Debian's) on a loopback port, in a temp dir, for the end-to-end tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.deploy.daemon import LoopbackDaemon, free_port
from tests.deploy.tools import RULES

WAIT_S = 90.0


class Prometheus(LoopbackDaemon):
    """``targets``: job name -> ``host:port`` scraped every second at ``/metrics``."""

    def __init__(self, tmp: Path, targets: dict[str, str], rule_files: list[Path]) -> None:
        port = free_port()
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            for job, target in targets.items()
        )
        rules = "".join(f"  - {p}\n" for p in rule_files)
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n{rules}scrape_configs:\n{jobs}"
        )
        super().__init__(
            "prometheus",
            [f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            port, tmp / "prometheus.log", WAIT_S,
        )  # fmt: skip

    def api(self, path: str, **params: str) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                doc = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            doc = json.loads(exc.read())
            exc.close()
        return doc

    def query(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """An instant query's result: labels (sorted, without __name__) -> value."""
        doc = self.api("query", query=expr)
        assert doc["status"] == "success", doc
        return {
            tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(
                r["value"][1]
            )
            for r in doc["data"]["result"]
        }

    def wait_for(self, expr: str, expected: dict, what: str) -> dict:
        deadline = time.monotonic() + WAIT_S
        got: dict = {}
        while time.monotonic() < deadline:
            got = self.query(expr)
            if got == expected:
                return got
            time.sleep(0.5)
        raise AssertionError(f"{what}: {expr} gave {got}, expected {expected}")


__all__ = ["RULES", "Prometheus", "free_port"]
