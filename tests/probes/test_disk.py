import shutil

import pytest

from designlog_magics.probes.disk import check_disk
from designlog_magics.probes.sizes import format_size, parse_size


def test_disk_facts_match_the_filesystem(tmp_path):
    facts = check_disk(tmp_path)
    assert facts.available_bytes == pytest.approx(shutil.disk_usage(tmp_path).free, rel=0.01)
    assert facts.summary().endswith(" available") and facts.enough is None
    assert check_disk(tmp_path, "1k").enough is True
    short = check_disk(tmp_path, "900P")
    assert short.enough is False and short.summary().startswith("Warning: only ")
    with pytest.raises(FileNotFoundError):
        check_disk(tmp_path / "missing")


@pytest.mark.parametrize(
    "text, size",
    [
        ("100k", 102400),
        ("40G", 40 * 1024**3),
        ("40GiB", 40 * 1024**3),
        ("2048", 2048),
        ("1.5M", int(1.5 * 1024**2)),
        ("2T", 2 * 1024**4),
    ],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-1k", "1X", ""])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize(
    "size, text",
    [
        (0, "0"),
        (1023, "1023"),
        (1024, "1.0K"),
        (670820, "656K"),
        (4 * 1024**3, "4.0G"),
        (10229, "10K"),
    ],
)
def test_format_size_like_coreutils(size, text):
    assert format_size(size) == text
