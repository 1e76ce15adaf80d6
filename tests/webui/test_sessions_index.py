"""The sessions index decompresses an archived session once, not on every load."""

from __future__ import annotations

import gzip
import json
import os

from src.query.engine import tail
from src.query.filters import EventFilter
from src.webui.app import create_app
from src.webui.sessions import SessionIndex
from src.webui.settings import WebSettings
from tests.webui.loopback import loopback_client


def archive(base, name: str, count: int) -> None:
    text = "".join(
        json.dumps({"ts": f"2025-12-20T10:00:{n:02d}Z", "session_id": name, "kind": "fill"}) + "\n"
        for n in range(count)
    )
    (base / f"{name}.jsonl.gz").write_bytes(gzip.compress(text.encode()))


def test_reloading_the_index_reads_no_gzip_data(tmp_path):
    base = tmp_path / "logs"
    base.mkdir()
    for n in range(30):
        archive(base, f"a{n:02d}", n + 1)
    (base / "live.jsonl").write_text(
        json.dumps({"ts": "2025-12-21T00:00:00Z", "session_id": "live", "kind": "fill"}) + "\n"
    )
    settings = WebSettings(base_path=base, summary_max_age_s=0)
    with loopback_client(create_app(settings=settings)) as client:
        index = client.app.state.index
        first = client.get("/api/sessions").json()
        assert index.gzip_reads == 30
        assert client.get("/").status_code == 200
        assert client.get("/api/sessions").json() == first
        assert index.gzip_reads == 30  # nothing decompressed again
        by_id = {row["session_id"]: row for row in first}
        assert by_id["a04"]["lines"] == 5
        for name in ("a04", "live"):
            newest = tail(base, EventFilter.build(session_id=name), 1)
            assert by_id[name]["last_event"] == newest[0].data["ts"]
        # A replaced archive (new identity) is read again; the others are not.
        archive(base, "a07", 3)
        os.utime(base / "a07.jsonl.gz", ns=(1, 1))
        rows = {r["session_id"]: r for r in client.get("/api/sessions").json()}
        assert rows["a07"]["lines"] == 3
        assert index.gzip_reads == 31


def test_a_damaged_archive_is_named_on_the_session_page(tmp_path):
    """The page counts what decoded and names the damaged file (escaped like all log text)."""
    base = tmp_path / "logs"
    base.mkdir()
    archive(base, "d", 4)
    raw = bytearray((base / "d.jsonl.gz").read_bytes())
    raw[-8] ^= 0xFF  # bad CRC: the four events still decode
    (base / "d.jsonl.gz").write_bytes(bytes(raw))
    settings = WebSettings(base_path=base, summary_max_age_s=0)
    with loopback_client(create_app(settings=settings)) as client:
        html = client.get("/live/execution/d").text
        assert 'id="count-total">4<' in html
        assert "1 damaged file(s), read only as far as they decode: <code>d.jsonl.gz</code>" in html
        assert client.get("/api/sessions").json()[0]["lines"] == 4


def test_the_newest_event_of_an_archive_ending_in_megabytes_of_bad_lines(tmp_path):
    """The index counts lines without decoding them; the newest event is still the last
    valid one, however far from the end it is."""
    from src.webui.sessions import SessionIndex

    base = tmp_path / "logs"
    base.mkdir()
    good = json.dumps({"ts": "2025-12-20T10:00:00Z", "session_id": "g", "kind": "fill"})
    bad = b"not json " * 100 + b"\n"
    data = good.encode() + b"\n" + bad * 40_000 + b"torn"
    (base / "g.jsonl.gz").write_bytes(gzip.compress(data))
    row = SessionIndex(base).describe()[0]
    assert row["lines"] == 40_001
    assert row["last_event"] == "2025-12-20T10:00:00Z"


def same_size_archives() -> tuple[bytes, bytes]:
    """Two gzip files of one size: 4 lines, and 5 lines (found by padding one field)."""
    sizes = {}
    for pad in range(400):
        lines = 4 if pad % 2 == 0 else 5
        text = "".join(
            json.dumps({"ts": f"2025-12-20T10:00:{n:02d}Z", "kind": "fill", "p": "x" * (pad + n)})
            + "\n"
            for n in range(lines)
        )
        data = gzip.compress(text.encode(), mtime=0)
        other = sizes.get((len(data), 9 - lines))
        if other is not None:
            return (data, other) if lines == 4 else (other, data)
        sizes[(len(data), lines)] = data
    raise AssertionError("no pair found")


def test_an_archive_rewritten_in_place_with_its_size_and_mtime_is_read_again(tmp_path):
    """Same inode, same size, same mtime (put back), other content: the ctime still differs,
    so the index does not keep the old count."""
    four, five = same_size_archives()
    base = tmp_path / "logs"
    base.mkdir()
    path = base / "old.jsonl.gz"
    path.write_bytes(four)
    os.utime(path, ns=(10**18, 10**18))
    settings = WebSettings(base_path=base, summary_max_age_s=0)
    with loopback_client(create_app(settings=settings)) as client:
        assert client.get("/api/sessions").json()[0]["lines"] == 4
        inode = path.stat().st_ino
        with path.open("r+b") as fh:  # in place: same inode
            fh.write(five)
        os.utime(path, ns=(10**18, 10**18))
        assert path.stat().st_ino == inode and path.stat().st_size == len(four)
        assert client.get("/api/sessions").json()[0]["lines"] == 5


def test_a_plain_file_truncated_and_written_again_longer_is_counted_anew(tmp_path):
    """Same inode, grown past the size counted before, but not by appending: every line is
    counted again (only the bytes after the old size were, giving old + new tail)."""
    base = tmp_path / "logs"
    base.mkdir()
    path = base / "s.jsonl"
    line = json.dumps({"ts": "2025-12-20T10:00:00Z", "session_id": "s", "kind": "fill"}) + "\n"
    path.write_text(line * 10)
    settings = WebSettings(base_path=base, summary_max_age_s=0)
    with loopback_client(create_app(settings=settings)) as client:
        assert client.get("/api/sessions").json()[0]["lines"] == 10
        with path.open("r+") as fh:  # in place: truncated, then a longer content
            fh.truncate(0)
            fh.write(line.replace("fill", "order") * 11)
        assert client.get("/api/sessions").json()[0]["lines"] == 11


def _writer_during_reads(monkeypatch, path) -> None:  # type: ignore[no-untyped-def]
    """A writer that appends one line to ``path`` each time the index starts reading
    appended bytes (as a live logger does, at any moment)."""
    from src.query import follow

    real = follow.iter_range_blocks

    def blocks(*args, **kwargs):  # type: ignore[no-untyped-def]
        with path.open("a") as fh:
            fh.write(json.dumps({"ts": "2025-12-20T10:00:00Z", "kind": "fill"}) + "\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(follow, "iter_range_blocks", blocks)


def test_lines_appended_while_the_index_counts_are_counted_once(tmp_path, monkeypatch):
    """Lines a writer appends while the index reads are counted once: at that load or the
    next, from where the last one stopped (they were counted twice: once to the end of
    file, once more as appended after the old size)."""
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"ts": "2025-12-20T10:00:00Z", "kind": "fill"}) + "\n")
    index = SessionIndex(tmp_path)
    with monkeypatch.context() as m:
        _writer_during_reads(m, path)
        for _ in range(3):
            index.describe()
    on_disk = path.read_text().count("\n")
    assert on_disk >= 2  # the writer wrote during a load
    assert index.describe()[0]["lines"] == SessionIndex(tmp_path).describe()[0]["lines"] == on_disk
