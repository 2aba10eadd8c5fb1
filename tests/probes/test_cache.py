"""The facts cache: hits, misses, invalidation, corruption, concurrent writers, JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtree import write_tree

from designlog_magics.probes import runtable
from designlog_magics.probes.cache import ENV_DIR, FactCache, default_cache_dir, source_version
from designlog_magics.probes.runfacts import STATES, RunConfig, RunOutcome
from designlog_magics.probes.runtable import (
    RunRecord,
    read_runs,
    record_from_json,
    record_to_json,
)


@pytest.fixture
def tree(tmp_path) -> list[str]:
    paths = write_tree(tmp_path / "scratch")
    return sorted(str(p) for p in paths.values())


@pytest.fixture
def counted(monkeypatch) -> list[str]:
    """Every path record_run actually reads."""
    seen: list[str] = []
    real = runtable.record_run

    def counting(path):
        seen.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(runtable, "record_run", counting)
    return seen


def test_cache_dir_from_the_environment_or_platformdirs(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(ENV_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "designlog"


def test_miss_then_hit(tree, counted, tmp_path):
    cache_dir = tmp_path / "cache"
    first = read_runs(tree, cache=cache_dir)
    assert sorted(counted) == tree
    assert (cache_dir / "runs.json").is_file()
    counted.clear()
    store = FactCache("runs", runtable._default_cache().version, cache_dir)
    second = read_runs(tree, cache=store)
    assert counted == [] and store.hits == len(tree) and store.misses == 0
    assert second == first


def test_default_cache_is_the_env_dir(tree, counted, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "env-cache"))
    read_runs(tree[:2])
    assert (tmp_path / "env-cache" / "runs.json").is_file()
    counted.clear()
    read_runs(tree[:2])
    assert counted == []


def test_a_changed_file_is_read_again(tree, counted, tmp_path):
    read_runs(tree, cache=tmp_path / "c")
    counted.clear()
    changed = tree[0]
    st = os.stat(changed)
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # same size, 1 ns later
    grown = tree[1]
    with open(grown, "a") as handle:
        handle.write("more\n")
    os.utime(grown, ns=(st.st_atime_ns, os.stat(tree[1]).st_mtime_ns))
    read_runs(tree, cache=tmp_path / "c")
    assert sorted(counted) == sorted([changed, grown])


def test_a_code_change_invalidates(tree, counted, tmp_path):
    read_runs(tree, cache=FactCache("runs", "v1", tmp_path / "c"))
    counted.clear()
    other = FactCache("runs", "v2", tmp_path / "c")
    read_runs(tree, cache=other)
    assert sorted(counted) == tree and other.hits == 0
    data = json.loads((tmp_path / "c" / "runs.json").read_text())
    assert data["version"] == "v2"


def test_source_version_follows_the_source(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("x = 1\n")

    class Fake:
        __file__ = str(module)

    before = source_version([Fake])
    module.write_text("x = 2\n")
    assert source_version([Fake]) != before


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\x00\xff\xfe", b"[]", b'{"version": 1}', b'{"version": "v", "entries": 3}'],
)
def test_a_corrupt_cache_is_ignored_and_rebuilt(tree, counted, tmp_path, content):
    directory = tmp_path / "c"
    directory.mkdir()
    (directory / "runs.json").write_bytes(content)
    store = FactCache("runs", "v", directory)
    records = read_runs(tree, cache=store)
    assert sorted(counted) == tree and len(records) == len(tree)
    data = json.loads((directory / "runs.json").read_text())
    assert data["version"] == "v" and len(data["entries"]) == len(tree)


def test_a_bad_entry_is_read_again(tree, counted, tmp_path):
    directory = tmp_path / "c"
    read_runs(tree[:1], cache=FactCache("runs", "v", directory))
    data = json.loads((directory / "runs.json").read_text())
    for entry in data["entries"].values():
        entry["facts"] = {"path": 1}
    (directory / "runs.json").write_text(json.dumps(data))
    counted.clear()
    read_runs(tree[:1], cache=FactCache("runs", "v", directory))
    assert counted == tree[:1]


def test_concurrent_writers_merge_and_never_tear(tree, tmp_path):
    directory = tmp_path / "c"
    one, two = FactCache("runs", "v", directory), FactCache("runs", "v", directory)
    one._load()
    two._load()  # both loaded the empty cache before either saved
    read_runs(tree[:3], cache=one)
    read_runs(tree[3:], cache=two)
    data = json.loads((directory / "runs.json").read_text())
    assert sorted(data["entries"]) == sorted(os.path.abspath(p) for p in tree)
    assert [p.name for p in directory.iterdir()] == ["runs.json"]  # no temporary left


def test_an_unwritable_cache_is_a_fact_not_an_error(tree, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = FactCache("runs", "v", blocker / "sub")
    assert len(read_runs(tree[:1], cache=store)) == 1
    assert store.error and "not saved" in store.error


def test_a_running_run_is_not_kept(tmp_path, counted):
    path = tmp_path / "ck-out-live" / "slurm-9.out"
    path.parent.mkdir()
    path.write_text("\r  5%|▌         | 5/100 [00:01<00:19,  4.90it/s]")  # written just now
    read_runs([path], cache=tmp_path / "c")
    read_runs([path], cache=tmp_path / "c")
    assert counted == [str(path), str(path)]


def test_cache_false_reads_every_time(tree, counted):
    read_runs(tree[:1], cache=False)
    read_runs(tree[:1], cache=None)
    assert counted == tree[:1] * 2


# -- RunRecord <-> JSON ---------------------------------------------------------------------
_text = st.text(max_size=20)
_opt_int = st.none() | st.integers(-(2**40), 2**40)
_opt_text = st.none() | _text
_yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_configs = st.builds(
    RunConfig,
    recipe=_text,
    distributed=st.booleans(),
    nproc=_opt_int,
    model_component=_opt_text,
    checkpoint_dir=_opt_text,
    checkpoint_name=_opt_text,
    model_name=_opt_text,
    batch_size=_opt_int,
    gradient_accumulation_steps=_opt_int,
    epochs=_opt_int,
    max_steps_per_epoch=_opt_int,
    max_seq_len=_opt_int,
    packed=st.none() | st.booleans(),
    dataset=_opt_text,
    dataset_source=_opt_text,
    dataset_files=st.lists(_text, max_size=3).map(tuple),
    lora_rank=_opt_int,
    lora_alpha=st.none() | st.integers(0, 512) | st.floats(0, 512),
    dtype=_opt_text,
    compile=st.none() | st.booleans(),
    output_dir=_opt_text,
    raw=st.dictionaries(_text, _yaml_values, max_size=4),
)
_outcomes = st.builds(
    RunOutcome,
    state=st.sampled_from(STATES),
    detail=_opt_text,
    epochs_done=_opt_int,
    steps_done=_opt_int,
    epochs_planned=_opt_int,
    steps_per_epoch=_opt_int,
)
_floats = st.none() | st.floats(allow_nan=False, allow_infinity=False)
_records = st.builds(
    RunRecord,
    path=_text,
    run=_text,
    job_id=_opt_text,
    mtime=_floats,
    size=_opt_int,
    config=st.none() | _configs,
    outcome=_outcomes,
    its=_floats,
    tokens_per_s=_floats,
    tokens_kind=_opt_text,
    steps_done=_opt_int,
    error=_opt_text,
    speed_error=_opt_text,
)


@settings(max_examples=200, deadline=None)
@given(_records)
def test_record_json_round_trip(record):
    data = json.loads(json.dumps(record_to_json(record)))
    back = record_from_json(data)
    assert back == record
    if record.config is not None:
        assert back.config is not None
        assert json.dumps(back.config.raw, sort_keys=True) == json.dumps(
            record.config.raw, sort_keys=True
        )


def test_records_of_real_files_round_trip(tree):
    for record in read_runs(tree, cache=False):
        back = record_from_json(json.loads(json.dumps(record_to_json(record))))
        assert back == record and back.config.raw == record.config.raw
        assert back.usable == record.usable and back.config.method == record.config.method


def test_cache_files_stay_in_the_given_directory(tree, tmp_path):
    home = Path(os.environ[ENV_DIR])
    before = set(home.rglob("*")) if home.exists() else set()
    read_runs(tree[:1], cache=tmp_path / "elsewhere")
    after = set(home.rglob("*")) if home.exists() else set()
    assert before == after and (tmp_path / "elsewhere" / "runs.json").exists()
