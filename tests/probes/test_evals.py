"""inspect eval throughput from its end-of-eval summary, on hand-written fixtures (README)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from designlog_magics.probes.evals import EvalRun, looks_like_eval, read_eval_run

DATA = Path(__file__).resolve().parents[1] / "data"
INSPECT = DATA / "inspect"


def close_to(measured: float | None, truth: float, tolerance: float = 0.03) -> bool:
    return measured is not None and abs(measured / truth - 1) <= tolerance


def test_one_model() -> None:
    r = read_eval_run(INSPECT / "one-model.out")
    assert close_to(r.total_seconds, 461.204381)
    assert r.samples == 1319 and r.task == "gsm8k" and r.epochs == 1
    assert r.models == (("openai/gpt-4o-mini", 1402977, 1170233, 232744, None, None, None),)
    assert r.total_tokens == 1402977
    assert close_to(r.tokens_per_s, 3042.0) and close_to(r.samples_per_s, 2.86)
    assert r.error is None and not r.interrupted
    assert r.summary() == (
        "Eval took 0:07:41 (461 s): 1,319 samples (2.86 samples/s), "
        "1,402,977 tokens (3,042 tokens/s)"
    )


def test_two_models_cache_reasoning_wrapped_and_role_rows() -> None:
    r = read_eval_run(INSPECT / "two-models.out")
    assert r.total_seconds == 3725
    assert (r.samples, r.epochs, r.task) == (1000, 2, "mmlu_pro")
    assert r.models == (
        ("anthropic/claude-3-7-sonnet-20250219", 2987410, 1874002, 300734, 210556, 602118, 118220),
        ("openai/o3-mini", 455301, 301877, 153424, None, None, 120960),
    )
    assert r.total_tokens == 3442711  # the "grader (role)" row is not added again
    assert close_to(r.tokens_per_s, 924.2)


def test_log_display() -> None:
    r = read_eval_run(INSPECT / "log-display.out")
    assert close_to(r.total_seconds, 2495.778)
    assert r.samples == 100 and r.task == "theory_of_mind"
    assert r.models == (
        ("openai/gpt-4.1", 253350, 150120, 62270, 0, 40960, None),
        ("openai/gpt-4.1-mini", 88004, 61200, 26804, None, None, 9344),
    )
    assert close_to(r.tokens_per_s, 136.8)


def test_ansi_coloured_footer() -> None:
    r = read_eval_run(INSPECT / "ansi.out")
    assert close_to(r.total_seconds, 192.5)
    assert r.samples == 2376 and r.task == "arc_easy"
    assert r.models == (("vllm/Qwen/Qwen2.5-7B-Instruct", 692015, 640311, 51704, None, None, None),)
    assert close_to(r.tokens_per_s, 3594.9)


def test_interrupted_counts_the_samples_done() -> None:
    r = read_eval_run(INSPECT / "interrupted-plain.out")
    assert r.interrupted and r.samples == 120 and r.total_seconds == 1200
    assert close_to(r.tokens_per_s, 82.0) and close_to(r.samples_per_s, 0.1)
    assert r.summary().endswith("(interrupted)")


def test_two_tasks_in_one_output_add_up(tmp_path: Path) -> None:
    out = tmp_path / "eval.out"
    out.write_bytes((INSPECT / "one-model.out").read_bytes() + (INSPECT / "ansi.out").read_bytes())
    r = read_eval_run(out)
    assert r.tasks == 2 and r.task == "gsm8k, arc_easy"
    assert close_to(r.total_seconds, 461.204381 + 192.5)
    assert r.samples == 1319 + 2376 and r.total_tokens == 1402977 + 692015


def test_looks_like_eval_tells_training_from_eval() -> None:
    assert all(looks_like_eval(p) for p in INSPECT.glob("*.out"))
    training = [*(DATA / "tokens").glob("*/*.out"), DATA / "example-slurm.out"]
    assert training and not any(looks_like_eval(p) for p in training)
    assert not looks_like_eval(INSPECT / "no-such.out")


def test_no_summary_and_missing_file(tmp_path: Path) -> None:
    out = tmp_path / "eval.out"
    out.write_text("inspect eval gsm8k.py --model openai/gpt-4o\nKilled\n")
    r = read_eval_run(out)
    assert r.total_seconds is None and "no inspect eval summary" in r.error
    assert r.summary().startswith("Eval: ")
    for path in (tmp_path / "none.out", "bad\x00name"):
        assert "cannot read" in read_eval_run(path).error
        assert not looks_like_eval(path)


def test_summary_without_usage_says_so(tmp_path: Path) -> None:
    out = tmp_path / "eval.out"
    out.write_text("total time:  0:00:10\n")
    r = read_eval_run(out)
    assert r.total_seconds == 10 and r.total_tokens is None and r.samples is None
    assert r.error == "no sample count or token usage printed"
    assert r.summary() == "Eval took 0:00:10 (10 s)"


FRAGMENTS = [
    b"total time:",
    b"  0:01:02.5",
    b"1 day, 0:00:01",
    b"\n",
    b"\x1b[1m",
    b"\x1b]8;;",
    b"m (3 x 2 samples): x",
    b"a/b  1,234 tokens [I: 1,000, CW: ",
    b"O: 234, R: 9]",
    b"Task interrupted (",
    b"cancelled (1/2 logged)",
    b"\xff\xfe",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=64), st.sampled_from(FRAGMENTS)), max_size=40))
def test_random_bytes_never_raise(parts: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "eval.out"
        out.write_bytes(b"".join(parts))
        r = read_eval_run(out)
        assert isinstance(r, EvalRun) and isinstance(r.summary(), str)
        assert isinstance(looks_like_eval(out), bool)
