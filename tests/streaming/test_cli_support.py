"""The stream commands' shared pieces: signals set the stop event, flags override config."""

from __future__ import annotations

import os
import signal
import threading

from src.streaming.cli_support import config_with, stop_on_signals


def test_sigterm_sets_stop_inside_and_the_old_handler_comes_back():
    before = signal.getsignal(signal.SIGTERM)
    stop = threading.Event()
    with stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    assert signal.getsignal(signal.SIGTERM) is before


def test_flags_given_override_and_flags_not_given_do_not(tmp_path):
    config = tmp_path / "execution.toml"
    config.write_text('[execution.telemetry.redis]\nstream = "from-file"\n')
    given = config_with(str(config), {"execution.telemetry.redis.stream": "from-flag"})
    assert given.telemetry.redis.stream == "from-flag"
    absent = config_with(str(config), {"execution.telemetry.redis.stream": None})
    assert absent.telemetry.redis.stream == "from-file"
