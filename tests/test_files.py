"""Files written whole or not at all, never over an existing one unless asked."""

from __future__ import annotations

import pytest

from designlog_magics.files import FileExists, write_file, write_files


def test_two_files_are_written_together_or_not_at_all(tmp_path):
    first, second = tmp_path / "experiment_summary.md", tmp_path / "missing-dir" / "plan.yaml"
    first.write_text("the old plan\n")
    with pytest.raises(OSError):  # the second cannot be written: the first stays as it was
        write_files([(first, "new plan\n"), (second, "runs: []\n")], force=True)
    assert first.read_text() == "the old plan\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment_summary.md"]
    second.parent.mkdir()
    write_files([(first, "new plan\n"), (second, "runs: []\n")], force=True)
    assert (first.read_text(), second.read_text()) == ("new plan\n", "runs: []\n")


def test_an_existing_file_is_refused_without_force_and_nothing_is_written(tmp_path):
    old, new = tmp_path / "a.yaml", tmp_path / "b.md"
    old.write_text("keep\n")
    with pytest.raises(FileExists, match=r"a\.yaml already exists; use --force"):
        write_files([(new, "x\n"), (old, "y\n")])
    assert old.read_text() == "keep\n" and not new.exists()
    assert write_file(new, "x\n") == new and new.read_text() == "x\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
