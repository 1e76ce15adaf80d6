"""Output files: refused when present, replaced only with force, whole or absent."""

from __future__ import annotations

import os

import pytest

from src.export import OutputExistsError, export
from src.export.output import OutputFile
from src.query.filters import EventFilter


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_existing_output_is_refused_and_kept(archive, tmp_path, fmt):
    """Without force an existing file is left byte for byte as it was."""
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="--force"):
        export(archive, EventFilter(), fmt, out)
    assert out.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == sorted(["logs", f"out.{fmt}"]) or set(os.listdir(tmp_path)) == {
        "logs",
        f"out.{fmt}",
    }


def test_force_replaces(archive, tmp_path):
    """With force the file is replaced by the export."""
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"old")
    export(archive, EventFilter(), "jsonl", out, force=True)
    assert out.read_bytes().count(b"\n") == 12


def test_a_failing_export_leaves_nothing(archive, tmp_path, monkeypatch):
    """An error mid-export removes the temporary file; the output never appears."""
    import src.export.jsonl as jsonl

    def boom(record):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jsonl, "encode_json_line", boom)
    with pytest.raises(RuntimeError):
        export(archive, EventFilter(), "jsonl", tmp_path / "out.jsonl")
    assert sorted(os.listdir(tmp_path)) == ["logs"]


def test_directory_and_symlink_targets(tmp_path):
    """A directory is not a file output; a symlink is replaced, never written through."""
    with pytest.raises(IsADirectoryError):
        OutputFile(tmp_path)
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with pytest.raises(OutputExistsError):
        OutputFile(link)
    out = OutputFile(link, force=True)
    out.open().write(b"new")
    out.commit()
    assert target.read_text() == "keep"
    assert not link.is_symlink() and link.read_bytes() == b"new"
