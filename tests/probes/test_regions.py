"""One open file read by offset: every read is the file's bytes, kept parts are not read again."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designlog_magics.probes import regions as regions_module
from designlog_magics.probes.regions import KEEP_HEAD, KEEP_TAIL, FileRegions

SIZE = KEEP_TAIL * 3 + 12_345
CONTENT = bytes((i * 7 + i // 251) % 256 for i in range(SIZE))


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    made = tmp_path_factory.mktemp("regions") / "data.bin"
    made.write_bytes(CONTENT)
    return made


@settings(max_examples=200, deadline=None)
@given(
    reads=st.lists(
        st.tuples(st.integers(-100, SIZE + 100), st.integers(-10, KEEP_TAIL * 2)),
        min_size=1,
        max_size=12,
    ),
    prefetch=st.booleans(),
)
def test_every_read_is_the_files_bytes_whatever_was_kept(path, reads, prefetch):
    with FileRegions(path) as regions:
        if prefetch:
            regions.pread(0, KEEP_TAIL)
            regions.pread(SIZE - KEEP_TAIL, KEEP_TAIL)
        for offset, length in reads:
            start = max(0, offset)  # a read before the start begins at the start
            expected = CONTENT[start : max(start, min(SIZE, start + length))]
            assert regions.pread(offset, length) == expected


def test_kept_head_and_tail_are_read_from_disk_once(path, monkeypatch):
    calls: list[tuple[int, int]] = []
    real = os.pread

    def spy(fd: int, length: int, offset: int) -> bytes:
        calls.append((offset, length))
        return real(fd, length, offset)

    monkeypatch.setattr(regions_module.os, "pread", spy)
    with FileRegions(path) as regions:
        regions.pread(0, KEEP_TAIL)
        regions.pread(SIZE - KEEP_TAIL, KEEP_TAIL)
        assert regions.disk_bytes == 2 * KEEP_TAIL
        regions.pread(100, 5000)  # inside the head
        regions.pread(SIZE - 4096, 4096)  # inside the tail
        assert len(calls) == 2
        regions.pread(KEEP_TAIL - 10, 30)  # straddles the head: only the 20 bytes after it
        assert calls[-1] == (KEEP_TAIL, 20) and regions.disk_bytes == 2 * KEEP_TAIL + 20
        regions.pread(SIZE - KEEP_TAIL - 8, 16, keep=False)  # straddles the tail
        assert calls[-1] == (SIZE - KEEP_TAIL - 8, 8)


def test_the_size_is_the_one_at_opening(tmp_path):
    grown = tmp_path / "slurm-1.out"
    grown.write_bytes(b"a" * 100)
    with FileRegions(grown) as regions:
        with open(grown, "ab") as handle:  # a running job appends
            handle.write(b"b" * 100)
        assert regions.size == 100 and regions.pread(0, 1000) == b"a" * 100
    assert KEEP_HEAD >= KEEP_TAIL


def test_not_a_regular_file_is_an_oserror(tmp_path):
    with pytest.raises(OSError, match="not a regular file"):
        FileRegions(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):  # opened without blocking
        FileRegions(fifo)
    with pytest.raises(FileNotFoundError):
        FileRegions(tmp_path / "missing")
