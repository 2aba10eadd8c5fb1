"""The run table: records of prior runs, ranked against a plan, on a hand-made tree."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from runtree import RUNS, write_tree

from designlog_magics.probes.runfacts import parse_config
from designlog_magics.probes.runs import search_runs
from designlog_magics.probes.runtable import (
    RunRecord,
    describe_ranking,
    parse_like,
    rank_runs,
    read_runs,
    record_run,
    search_like,
    transfer_warning,
)

PLAN = {
    "model": "Llama-3.2-1B-Instruct",
    "batch_size": "4",
    "gradient_accumulation_steps": "1",
    "tokenizer.max_seq_len": "512",
}
TRUTH = {run.name: run for run in RUNS}


@pytest.fixture
def tree(tmp_path) -> Path:
    write_tree(tmp_path / "scratch")
    return tmp_path / "scratch"


def test_records_hold_config_outcome_and_speeds(tree):
    records = read_runs(search_runs(tree, min_size=None).paths, cache=False)
    by_run = {r.run: r for r in records}
    assert set(by_run) == set(TRUTH)
    for name, truth in TRUTH.items():
        record = by_run[name]
        assert record.outcome.state == truth.end, name
        assert record.config is not None and record.config.batch_size == truth.batch_size
        assert record.steps_done == truth.done
        if truth.truth_its is None:
            assert record.its is None and not record.usable
            assert "oom" in (record.speed_error or "")
        elif truth.done < 20:  # a smoke test is all warmup: its figure is low, not steady
            assert record.its is not None and record.its < 0.8 * truth.its
            assert not record.steady and record.usable
        else:
            assert math.isclose(record.its, truth.its, rel_tol=0.03), (name, record.its)
            assert math.isclose(record.tokens_per_s, truth.tokens, rel_tol=0.03), name
            assert record.tokens_kind == "steady-median"
            assert record.usable
    assert by_run["ck-out-tiny-heron"].steady is False
    assert by_run["ck-out-happy-narwhal"].steady is True


def test_a_record_is_what_the_speed_step_reads_of_the_run(tree):
    """One reader serves both: the table's record and the speed step's facts agree."""
    from designlog_magics.probes.prior_run import read_prior_run

    for path in sorted(tree.glob("*/*.out")):
        record = record_run(path)
        prior = read_prior_run(path, speed_mode="sampled")
        assert record.config == prior.facts.config and record.outcome == prior.facts.outcome
        assert record.tokens_per_s == prior.tokens.tokens_per_s
        if record.its is not None:
            assert record.its == prior.speed.plan_its
        else:  # the oom run: its speed is not used, whatever the probe saw
            assert record.outcome.state == "oom" and "before any step" in record.speed_error


def test_ranking_order_on_unlike_decoys(tree):
    found, ranked = search_like(tree, PLAN, cache=False)
    assert found.min_size is None  # the OOM run is a 3 KB file: no size test hides it
    assert [r.record.run for r in ranked] == [
        "ck-out-happy-narwhal",  # same everything, completed, steady
        "ck-out-tiny-heron",  # same, completed, but a 12-step smoke test
        "ck-out-swift-otter",  # same, killed at its time limit
        "ck-out-bright-horizon",  # batch size 8
        "ck-out-oom-run",  # batch size and sequence length differ; out of memory
        "ck-out-big-llama",  # another model
    ]
    assert [r.rank for r in ranked] == [1, 2, 3, 4, 5, 6]
    best = ranked[0]
    assert best.matches == ("model", "batch_size", "gradient_accumulation_steps", "max_seq_len")
    assert best.differs == () and best.usable
    horizon = ranked[3]
    assert horizon.differs == ("batch_size 8 vs 4",)
    assert "batch_size" not in horizon.matches
    oom = ranked[4]
    assert not oom.usable
    assert oom.differs == ("batch_size 16 vs 4", "max_seq_len 2048 vs 512")
    assert ranked[5].differs == ("model Llama-3.1-8B-Instruct vs Llama-3.2-1B-Instruct",)


def test_result_text_names_the_best_the_others_and_the_failed(tree):
    _, ranked = search_like(tree, PLAN, cache=False)
    text = describe_ranking(ranked)
    best = ranked[0].record
    assert text.startswith(
        "Best match: ck-out-happy-narwhal (same model, batch_size=4, "
        "gradient_accumulation_steps=1, max_seq_len=512; completed; "
        f"{best.its:.2f} it/s, 3,900 tokens/s); also: "
    )
    assert best.its == pytest.approx(4.34, rel=0.03)  # the hand-made run's truth
    also = text.split("; also: ", 1)[1].split("; failed: ")[0]
    assert also.index("ck-out-tiny-heron") < also.index("ck-out-swift-otter")
    assert "ck-out-bright-horizon 2.31 it/s, 4,150 tokens/s (batch_size 8 vs 4)" in also
    assert "ck-out-swift-otter 3.95 it/s, 3,560 tokens/s (timeout at step 250)" in also
    assert "short run, 12 steps" in also
    assert "model Llama-3.1-8B-Instruct vs Llama-3.2-1B-Instruct" in also
    assert text.endswith(
        "; failed: ck-out-oom-run (oom at step 1; batch_size 16 vs 4, max_seq_len 2048 vs 512)"
    )


def test_transfer_warning_points_to_tokens(tree):
    _, ranked = search_like(tree, PLAN, cache=False)
    by_run = {r.record.run: r for r in ranked}
    assert transfer_warning(by_run["ck-out-happy-narwhal"], PLAN) is None
    assert transfer_warning(by_run["ck-out-swift-otter"].record, PLAN) is None
    warning = transfer_warning(by_run["ck-out-bright-horizon"], PLAN)
    assert warning == (
        "ck-out-bright-horizon differs from the plan (batch_size 8 vs 4): it/s does not carry "
        "over when the batch size differs; plan with tokens/s (4,150 tokens/s per GPU) instead"
    )
    model = transfer_warning(by_run["ck-out-big-llama"], PLAN)
    assert model is not None and "model Llama-3.1-8B-Instruct" in model
    assert "only a rough guide across models" in model
    oom = transfer_warning(by_run["ck-out-oom-run"], PLAN)
    assert oom is not None and "batch size and sequence length differ" in oom
    assert "no tokens/s" in oom


def test_default_size_filter_hides_the_oom_run_but_like_does_not(tree):
    default = search_runs(tree)
    assert not any("oom-run" in p for p in default.paths)
    found, ranked = search_like(tree, PLAN, cache=False)
    assert any(r.record.run == "ck-out-oom-run" for r in ranked)
    sized, ranked_sized = search_like(tree, PLAN, min_size="+100k", cache=False)
    assert sized.min_size == "+100k"
    assert {r.record.run for r in ranked_sized} < {r.record.run for r in ranked}


def test_like_values_are_parsed_as_the_config_holds_them():
    assert parse_like(
        {"batch_size": "4", "packed": "false", "lora_alpha": "16", "dataset.packed": "True"}
    ) == {"batch_size": 4, "packed": True, "lora_alpha": 16}
    assert parse_like({"lora_alpha": "0.5", "model": "Llama-3.2-1B"}) == {
        "lora_alpha": 0.5,
        "model": "Llama-3.2-1B",
    }
    with pytest.raises(ValueError, match="batch_size must be a whole number"):
        parse_like({"batch_size": "four"})
    with pytest.raises(ValueError, match="packed must be true or false"):
        parse_like({"packed": "maybe"})
    with pytest.raises(ValueError) as caught:
        parse_like({"batchsize": "4"})
    message = str(caught.value)
    assert "unknown key 'batchsize'" in message
    for known in ("batch_size", "gradient_accumulation_steps", "max_seq_len", "model", "epochs"):
        assert known in message


def test_unknown_key_fails_before_the_walk(tmp_path):
    with pytest.raises(ValueError, match="unknown key"):
        search_like(tmp_path / "does-not-exist", {"lr": "1e-4"}, cache=False)


def test_model_by_component_when_no_checkpoint_dir(tree, tmp_path):
    # A config that names only the builder: lora_llama3_2_1b is a Llama-3.2-1B.
    text = (
        "INFO:torchtune.utils._logging:Running LoRAFinetuneRecipeSingleDevice with resolved "
        "config:\n\nbatch_size: 4\nmodel:\n  _component_: torchtune.models.llama3_2."
        "lora_llama3_2_1b\n  lora_rank: 8\n\n"
    )
    config = parse_config(text)
    assert config is not None and config.checkpoint_name is None
    record = record_run(next(tree.glob("ck-out-happy-narwhal/*.out")))
    from dataclasses import replace

    bare = replace(record, config=config, run="ck-out-bare")
    ranked = rank_runs([bare], {"model": "Llama-3.2-1B-Instruct", "batch_size": 4})
    assert ranked[0].matches == ("model", "batch_size")
    other = rank_runs([bare], {"model": "Llama-3.1-8B-Instruct"})
    assert other[0].differs and other[0].differs[0].startswith("model ")


def test_other_keys_rank_after_the_core_ones(tree):
    records = read_runs(sorted(str(p) for p in tree.glob("*/*.out")), cache=False)
    ranked = rank_runs(records, {**PLAN, "lora_rank": "16", "packed": "false"})
    # every run has lora_rank 8: the difference is listed but the core order stands
    assert ranked[0].record.run == "ck-out-happy-narwhal"
    assert "lora_rank 8 vs 16" in ranked[0].differs


def test_newest_first_among_equals(tree, tmp_path):
    records = read_runs(sorted(str(p) for p in tree.glob("*/*.out")), cache=False)
    happy = next(r for r in records if r.run == "ck-out-happy-narwhal")
    from dataclasses import replace

    newer = replace(happy, run="ck-out-newer", mtime=(happy.mtime or 0) + 3600)
    ranked = rank_runs([happy, newer], PLAN)
    assert [r.record.run for r in ranked] == ["ck-out-newer", "ck-out-happy-narwhal"]


def test_unreadable_and_empty_inputs_become_facts(tmp_path):
    missing = record_run(tmp_path / "ck-out-x" / "slurm-1.out")
    assert isinstance(missing, RunRecord) and missing.error and not missing.usable
    empty = tmp_path / "ck-out-empty" / "slurm-2.out"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    record = record_run(empty)
    assert record.config is None and record.its is None and not record.usable
    ranked = rank_runs([missing, record], PLAN)
    assert all(not r.usable for r in ranked)
    text = describe_ranking(ranked)
    assert text.startswith("No usable prior run")
    assert describe_ranking([]) == "No prior runs to compare"


def test_demo_tree_ranks_the_reference_first(tmp_path):
    from designlog_magics._demo import build_demo_data

    facts = build_demo_data(tmp_path / "demo")
    _, ranked = search_like(facts.scratch_dir, PLAN, cache=False)
    assert ranked[0].record.run == facts.reference_run
    by_run = {r.record.run: r for r in ranked}
    for run in facts.runs:
        if run.name not in by_run:
            assert not run.name.startswith("ck-out-") or run.kind == "decoy"
            continue
        record = by_run[run.name].record
        assert record.outcome.state == run.outcome, run.name
        if run.steady_its and run.outcome != "oom":
            assert math.isclose(record.its, run.steady_its, rel_tol=0.03), run.name
        if run.tokens_per_s:
            assert math.isclose(record.tokens_per_s, run.tokens_per_s, rel_tol=0.03), run.name
    assert "ck-out-quiet-falcon (oom at step 1" in describe_ranking(ranked)
