"""Writing and checking the gzip files retention produces.

A merged file is the existing ``.jsonl.gz`` copied byte for byte followed by one new gzip
member holding the plain file: a multi-member gzip, which ``gzip``, ``zcat``, ``gunzip`` and
the query layer read as one stream, oldest events first. Nothing already compressed is
decompressed or rewritten, so a merge costs what compressing the new part costs.
"""

from __future__ import annotations

import gzip
import os
import zlib

from src.query.files import GZIP_ERRORS

__all__ = ["COMPRESSLEVEL", "estimate_ratio", "gz_readable", "write_temp_gz"]

CHUNK = 1 << 20
COMPRESSLEVEL = 6  # gzip's own default: most of level 9's ratio at a fraction of the time
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def gz_readable(fd: int) -> bool:
    """True when the whole gzip file behind ``fd`` decompresses (every member complete)."""
    try:
        with open(os.dup(fd), "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            while gz.read(CHUNK):
                pass
    except (*GZIP_ERRORS, ValueError):
        return False
    return True


def write_temp_gz(
    dir_fd: int,
    temp_name: str,
    *,
    src_fd: int,
    size: int,
    member_name: str,
    existing_fd: int | None,
    mtime_ns: int,
) -> int:
    """Create ``temp_name`` in ``dir_fd``: the existing gzip (if any), then ``src_fd[0:size]``
    as a new member; fsynced, with mtime ``mtime_ns``. Returns its size.

    On an error the temp file is removed and the error re-raised.
    """
    tfd = os.open(temp_name, _TEMP_FLAGS, 0o644, dir_fd=dir_fd)
    try:
        with open(tfd, "wb", closefd=False) as out:
            if existing_fd is not None:
                pos = 0
                while chunk := os.pread(existing_fd, CHUNK, pos):
                    out.write(chunk)
                    pos += len(chunk)
            with gzip.GzipFile(
                filename=member_name,
                mode="wb",
                fileobj=out,
                compresslevel=COMPRESSLEVEL,
                mtime=mtime_ns // 1_000_000_000,
            ) as gz:
                pos = 0
                while pos < size:
                    chunk = os.pread(src_fd, min(CHUNK, size - pos), pos)
                    if not chunk:
                        raise OSError(f"{member_name} shrank while being compressed")
                    gz.write(chunk)
                    pos += len(chunk)
        os.fsync(tfd)
        os.utime(tfd, ns=(mtime_ns, mtime_ns))
        return os.fstat(tfd).st_size
    except Exception:
        try:
            os.unlink(temp_name, dir_fd=dir_fd)
        except OSError:
            pass
        raise
    finally:
        os.close(tfd)


def estimate_ratio(samples: list[bytes], default: float = 0.15) -> float:
    """Compressed/raw size ratio measured on sample bytes (``default`` without samples)."""
    raw = sum(len(s) for s in samples)
    if not raw:
        return default
    packed = 0
    for sample in samples:
        co = zlib.compressobj(COMPRESSLEVEL, zlib.DEFLATED, 31)
        packed += len(co.compress(sample)) + len(co.flush())
    return min(1.0, packed / raw)
