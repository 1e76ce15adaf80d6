"""A dashboard installed without the "export" extra: an Excel download fails with a message
naming the extra (from the build's worker), not with a Python exception's last line."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

BLOCKER = "import sys\nsys.modules['openpyxl'] = None\n"


def test_an_excel_download_without_openpyxl_names_the_export_extra(uvicorn_app, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    with uvicorn_app(env={"PYTHONPATH": str(site)}) as app:
        url = f"http://127.0.0.1:{app.port}/api/export?session_id=session_clean&format=xlsx"
        try:
            urllib.request.urlopen(url, timeout=120)
            raise AssertionError("the download succeeded without openpyxl")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, json.loads(exc.read())
    assert status == 500
    assert body["detail"] == (
        "export failed: openpyxl is not installed; it comes with the 'export' extra: "
        "pip install 'execution-telemetry[export]' (or `make install`)"
    )
