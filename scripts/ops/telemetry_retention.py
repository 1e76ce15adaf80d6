#!/usr/bin/env python3
"""Runbook entry point; the command lives in src/ops/retention/cli.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from src.ops.retention.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
