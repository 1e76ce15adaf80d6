"""A session only the CLI summarised, opened in a real headless Chromium (Debian's, through
Playwright) on a real uvicorn server: the cards are complete at once, the charts say they
are being built and fill in by themselves once the background read is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.webui.conftest import serving
from tests.webui.test_browser import ARTIFACTS, CHROMIUM
from tests.webui.test_summaries import Gated, app_over, cli_summary, session, states


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        yield pg
        browser.close()


@pytest.fixture
def gated():
    Gated.gate.clear()
    Gated.entered.clear()
    yield Gated
    Gated.gate.set()


@pytest.fixture
def cli_only(tmp_path: Path, repo_root: Path) -> Path:
    """A 1,200-event session whose only saved state is the CLI's ``--summary``."""
    (tmp_path / "s.jsonl").write_bytes(session(400))
    cli_summary(tmp_path, repo_root)
    assert len(states(tmp_path)) == 1
    return tmp_path


@pytest.fixture
def gated_server(cli_only: Path, gated):
    """uvicorn in a thread over ``cli_only``; its chart builds wait for ``Gated.gate``."""
    with serving(app_over(cli_only, gated)) as (url, _):
        try:
            yield url
        finally:
            gated.gate.set()  # a waiting chart build ends before the server stops


def test_cards_at_once_then_the_charts_fill_in(page, gated_server, gated, cli_only):
    page.goto(f"{gated_server}/live/execution/s?range=session")
    # The cards come from the CLI's saved state: complete on the first paint.
    assert page.text_content("#count-total") == "1200"
    assert page.text_content("#count-fill") == "400"
    note = page.locator("#charts[data-pending='building'] #charts-note")
    assert "Building charts" in note.inner_text()
    assert page.locator("#charts svg.chart").count() == 0
    assert gated.entered.wait(30)  # the page had the worker start reading for the charts
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-building-charts.png"))

    gated.gate.set()
    # No reload: the page asks again every second while the charts are pending.
    page.wait_for_selector("#charts svg.chart", timeout=20000)
    assert page.locator("#charts svg.chart").count() == 4
    assert page.locator("#charts-note").count() == 0
    assert "· 1,200 events" in page.locator("#charts svg.chart").first.get_attribute("aria-label")
    assert page.text_content("#count-total") == "1200"
    page.screenshot(path=str(ARTIFACTS / "dashboard-charts-built.png"))
    assert len(states(cli_only)) == 2  # the dashboard saved its own state once built
