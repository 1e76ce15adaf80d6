"""validate_root: which directories retention may treat as a telemetry root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from src.ops.root import UnsafeRootError, validate_root


@pytest.mark.parametrize(
    "rel", ["logs/execution", "telemetry", "srv/logs", "a/execution/b", "x/Execution"]
)
def test_roots_with_a_marker_component_are_accepted(tmp_path, rel):
    """A component named execution, telemetry or logs (anywhere in the path) qualifies."""
    path = tmp_path / rel
    path.mkdir(parents=True)
    assert validate_root(path) == path.resolve()


@pytest.mark.parametrize("rel", ["blog", "catalog", "var/log", "execution_logs", "mylogs/x"])
def test_substrings_are_not_components(tmp_path, rel):
    """blog, catalog, var/log, execution_logs: the word inside a name does not count."""
    path = tmp_path / rel
    path.mkdir(parents=True)
    with pytest.raises(
        UnsafeRootError, match=r"Unsafe or invalid telemetry root.*no path component"
    ):
        validate_root(path)


@pytest.mark.parametrize("path", ["/", "/var/log", "/etc", "/usr", "/tmp", "/var", "/proc/self"])
def test_system_directories_are_refused(path):
    """/, /var/log and friends are refused whatever their names contain."""
    with pytest.raises(UnsafeRootError, match="Unsafe or invalid telemetry root"):
        validate_root(path)


def test_anything_below_etc_is_refused_even_with_a_marker(tmp_path):
    """System trees are refused as a whole (checked on the real path)."""
    link = tmp_path / "logs"
    os.symlink("/etc", link)
    with pytest.raises(UnsafeRootError, match="system directory"):
        validate_root(link)


def test_home_directory_and_its_parents_are_refused(tmp_path):
    """The home directory is never a telemetry root, even if it is called logs."""
    home = tmp_path / "logs" / "home"
    home.mkdir(parents=True)
    with pytest.raises(UnsafeRootError, match="home directory"):
        validate_root(home, home=home)
    with pytest.raises(UnsafeRootError, match="home directory"):
        validate_root(home.parent, home=home)


def test_symlinked_root_is_judged_by_where_it_points(tmp_path):
    """A root named logs/execution that links to a directory without a marker is refused."""
    target = tmp_path / "data" / "archive"
    target.mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    os.symlink(target, tmp_path / "logs" / "execution")
    with pytest.raises(UnsafeRootError, match="no path component"):
        validate_root(tmp_path / "logs" / "execution")


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_missing_or_non_directory_roots_are_invalid(tmp_path, kind):
    """A root that does not exist, is a file or is empty is invalid, with the same message."""
    path = tmp_path / "logs"
    if kind == "file":
        path.write_text("x")
    arg: str | Path = "" if kind == "empty" else path
    with pytest.raises(UnsafeRootError, match="Unsafe or invalid telemetry root"):
        validate_root(arg)


def test_relative_roots_resolve_against_the_working_directory(tmp_path, monkeypatch):
    """The runbook's default `logs/execution` works from the project directory."""
    (tmp_path / "logs" / "execution").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert validate_root("logs/execution") == (tmp_path / "logs" / "execution").resolve()
