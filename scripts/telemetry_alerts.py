#!/usr/bin/env python3
"""Runbook and cron entry point; the command lives in src/alerts/cli.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.alerts.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
