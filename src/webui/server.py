"""``telemetry-dashboard``: serve the dashboard with uvicorn (127.0.0.1 unless a token is set).

Exit codes: 0 stopped; 3 bad input (a bad flag or setting, an open bind without a token).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from src.cli.common import Parser, fail, port_number
from src.common.extras import needs_extras
from src.webui.settings import TOKEN_ENV, WebSettings, check_bind

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="telemetry-dashboard", description="Serve the live execution telemetry dashboard."
    )
    p.add_argument("--path", help="log root (default: the config's telemetry base_path)")
    p.add_argument(
        "--host", help="bind address (default: [dashboard] host of the config, 127.0.0.1)"
    )
    p.add_argument(
        "--port", type=port_number, help="port (default: [dashboard] port of the config, 8000)"
    )
    p.add_argument(
        "--alerts-state",
        help="the alert engine's state file (default: the config's, or <path>/.alerts/state.json)",
    )
    p.epilog = (
        f"Binding anything but loopback requires an access token in ${TOKEN_ENV}; "
        "clients send it as 'Authorization: Bearer <token>' or log in at /login."
    )
    return p


@needs_extras("dashboard")
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = WebSettings.from_environment(
            base_path=args.path,
            host=args.host,
            port=args.port,
            alerts_state_path=Path(args.alerts_state) if args.alerts_state else None,
        )
        check_bind(settings)
    except ValueError as exc:
        return fail(str(exc))
    import uvicorn

    from src.webui.app import create_app

    print(
        f"dashboard: http://{settings.host}:{settings.port}/ (logs in {settings.base_path})",
        flush=True,
    )
    uvicorn.run(
        create_app(settings=settings), host=settings.host, port=settings.port, log_level="warning"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
