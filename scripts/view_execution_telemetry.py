#!/usr/bin/env python3
"""Runbook entry point; the command lives in src/cli/view_telemetry.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.cli.view_telemetry import main

if __name__ == "__main__":
    raise SystemExit(main())
