"""What a torchtune run was and how it ended, read from hand-written SLURM outputs.

The fixtures under tests/data/torchtune/ follow torchtune's, tqdm's, PyTorch's and SLURM's
own format strings (their README says which line comes from where); each test states the
facts its fixture must give.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designlog_magics.probes import runfacts
from designlog_magics.probes.runfacts import (
    RunOutcome,
    checkpoint_name,
    classify_outcome,
    job_id_from_name,
    model_key,
    model_name_from_component,
    parse_config,
    read_run_facts,
    same_model,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "torchtune"
HOUR = 3600.0


def facts(name: str, *, age: float = 3 * HOUR):
    """Facts of a fixture, read as if ``age`` seconds after its last write."""
    path = DATA / name
    return read_run_facts(path, now=os.stat(path).st_mtime + age)


def test_single_device_lora_completed_two_epochs():
    f = facts("slurm-1001.out")
    assert (f.job_id, f.error, f.config_error) == ("1001", None, None)
    c = f.config
    assert c.recipe == "LoRAFinetuneRecipeSingleDevice"
    assert (c.distributed, c.nproc) == (False, 1)
    assert c.model_component == "torchtune.models.llama3_2.lora_llama3_2_1b"
    assert c.checkpoint_dir == "/models/Llama-3.2-1B-Instruct/"
    assert c.checkpoint_name == c.model_name == "Llama-3.2-1B-Instruct"
    assert (c.batch_size, c.gradient_accumulation_steps, c.epochs) == (4, 1, 2)
    assert (c.max_steps_per_epoch, c.max_seq_len, c.packed) == (None, 512, False)
    assert c.dataset == "torchtune.datasets.alpaca_cleaned_dataset"
    assert (c.dataset_source, c.dataset_files) == (None, ())
    assert (c.lora_rank, c.lora_alpha, c.dtype, c.compile) == (8, 16, "bf16", False)
    assert c.output_dir == "/scratch/runs/lora-r8"
    assert c.raw["optimizer"] == {
        "_component_": "torch.optim.AdamW",
        "fused": True,
        "lr": 0.0003,
        "weight_decay": 0.01,
    }
    assert c.model_key == "llama3.2-1b"
    assert c.describe() == (
        "Llama-3.2-1B-Instruct, LoRA r8, batch_size=4, gradient_accumulation_steps=1, "
        "max_seq_len=512, epochs=2"
    )
    assert f.outcome == RunOutcome(
        "completed",
        "INFO:torchtune.utils._logging:Saving final epoch checkpoint.",
        epochs_done=2,
        steps_done=10,
        epochs_planned=2,
        steps_per_epoch=5,
    )
    assert f.outcome.describe() == "completed: 2 of 2 epochs done, step 10"


def test_distributed_full_finetune_one_print_per_line():
    f = facts("slurm-2002.out")
    c = f.config
    assert c.recipe == "FullFinetuneRecipeDistributed"
    assert (c.distributed, c.nproc) == (True, 2)  # from "+ tune run --nproc_per_node 2 ..."
    assert c.model_name == "Llama-3.1-8B-Instruct"
    assert c.model_component == "torchtune.models.llama3_1.llama3_1_8b"
    assert (c.batch_size, c.gradient_accumulation_steps, c.max_steps_per_epoch) == (2, 8, 4)
    assert (c.max_seq_len, c.packed, c.compile, c.lora_rank) == (2048, True, True, None)
    assert c.dataset == "torchtune.datasets.instruct_dataset"
    assert (c.dataset_source, c.dataset_files) == ("json", ("/data/sft/train.jsonl",))
    assert c.describe() == (
        "Llama-3.1-8B-Instruct, full, batch_size=2, gradient_accumulation_steps=8, "
        "max_seq_len=2048, packed, epochs=1, max_steps_per_epoch=4, 2 processes, compile"
    )
    assert f.outcome == RunOutcome(
        "completed",
        "INFO:torchtune.utils._logging:Model checkpoint saved to /scratch/runs/full-8b/epoch_0",
        epochs_done=1,
        steps_done=4,
        epochs_planned=1,
        steps_per_epoch=4,
    )


def test_time_limit_mid_second_epoch():
    f = facts("slurm-3003.out")
    assert f.config.model_name == "Qwen2.5-0.5B-Instruct"
    assert (f.config.lora_rank, f.config.lora_alpha, f.config.epochs) == (16, 32, 3)
    assert f.outcome == RunOutcome(
        "timeout",
        "slurmstepd: error: *** JOB 3003 ON gpu-node-07 CANCELLED AT 2025-10-22T14:23:15 "
        "DUE TO TIME LIMIT ***",
        epochs_done=1,
        steps_done=6,
        epochs_planned=3,
        steps_per_epoch=4,
    )
    assert f.outcome.describe() == "timeout: 1 of 3 epochs done, step 6"


def test_cuda_oom_at_the_first_step():
    f = facts("slurm-4004.out")
    assert f.config.recipe == "FullFinetuneRecipeSingleDevice"
    assert (f.config.batch_size, f.config.max_seq_len) == (16, 4096)
    o = f.outcome
    assert o.state == "oom"
    assert o.detail.startswith(
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 7.83 GiB. GPU 0 has a "
    )
    assert len(o.detail) <= runfacts.DETAIL_CHARS
    assert (o.epochs_done, o.steps_done, o.epochs_planned, o.steps_per_epoch) == (0, 0, 1, 3235)


def test_distributed_crash_names_the_child_error_not_torchrun():
    f = facts("slurm-5005.out")
    c = f.config
    assert (c.recipe, c.distributed, c.nproc) == ("LoRAFinetuneRecipeDistributed", True, 8)
    # Meta-format weights: the directory that names the model is above original/
    assert c.checkpoint_dir == "/models/Meta-Llama-3.1-8B-Instruct/original/"
    assert c.model_name == "Meta-Llama-3.1-8B-Instruct"
    assert c.dataset_files == ("/data/chat/part-0.jsonl", "/data/chat/part-1.jsonl")
    assert c.describe().endswith("epochs=1, 8 processes")
    assert f.outcome == RunOutcome(
        "failed", "KeyError: 'tokens'", 0, 3, epochs_planned=1, steps_per_epoch=1200
    )


def test_still_running_mid_bar_then_stale():
    running = facts("slurm-6006.out", age=60)
    assert running.outcome == RunOutcome(
        "running",
        "1|3|Loss: 1.5733: 30%|███ | 3/10 [00:01<00:05, 1.09s/it]",
        epochs_done=0,
        steps_done=3,
        epochs_planned=1,
        steps_per_epoch=10,
    )
    stale = facts("slurm-6006.out", age=3 * HOUR)
    assert (stale.outcome.state, stale.outcome.steps_done) == ("unknown", 3)


def test_config_without_checkpoint_dir_names_the_model_from_the_component():
    f = facts("slurm-7007.out")
    c = f.config
    assert c.recipe == "FullFinetuneRecipeSingleDevice"  # printed without a log prefix
    assert (c.checkpoint_dir, c.checkpoint_name) == (None, None)
    assert c.model_name == "Qwen2.5-0.5B"
    assert c.output_dir == "/scratch/runs/qwen-full"
    assert same_model(c, "Qwen2.5-0.5B-Instruct")
    assert not same_model(c, "Qwen2.5-1.5B-Instruct")
    assert f.outcome == RunOutcome(
        "cancelled",
        "slurmstepd: error: *** JOB 7007 ON gpu-node-02 CANCELLED AT 2025-10-23T09:01:44 ***",
        epochs_done=0,
        steps_done=2,
        epochs_planned=2,
        steps_per_epoch=3,
    )


def test_traceback_ending_the_output_is_a_failure():
    f = facts("slurm-8008.out")
    assert f.outcome.state == "failed"
    assert f.outcome.detail.startswith("RuntimeError: DataLoader worker (pid 52114) is killed")
    assert (f.outcome.epochs_done, f.outcome.steps_done) == (0, 2)


def test_carriage_returns_or_newlines_give_the_same_facts(tmp_path):
    original = (DATA / "slurm-1001.out").read_bytes()
    assert b"\r2|10|Loss" in original
    per_line = tmp_path / "slurm-1001.out"
    per_line.write_bytes(original.replace(b"\r", b"\n"))
    a, b = facts("slurm-1001.out"), read_run_facts(per_line, now=0)
    assert a.config == b.config
    assert a.outcome == b.outcome


def _big_run(tmp_path, noise_before_config: int, steps: int) -> Path:
    """slurm-1001's config and end around ``steps`` progress prints, as a large file."""
    text = (DATA / "slurm-1001.out").read_bytes().decode("utf-8")  # keep the \r
    head, rest = text.split("\r  0%", 1)
    prints = "".join(
        f"\r1|{s}|Loss: 1.5: {s * 100 // steps:3d}%|█████     | {s}/{steps}"
        " [01:00<01:00,  1.50it/s]"
        for s in range(1, steps + 1)
    )
    ending = rest[rest.index("INFO:torchtune.utils._logging:Starting") :]
    ending = ending.replace("|10|", f"|{steps}|")
    path = tmp_path / "slurm-99.out"
    line = "pip: Requirement already satisfied: torchtune\n"
    noise = line * (noise_before_config // len(line) + 1)
    path.write_bytes((noise[:noise_before_config] + head + prints + ending).encode("utf-8"))
    return path


def test_large_output_reads_head_and_tail_only(tmp_path, monkeypatch):
    path = _big_run(tmp_path, 0, 60_000)
    assert path.stat().st_size > 4 << 20
    reads: list[tuple[int, int]] = []
    real = runfacts._read_range

    def spy(fd, offset, length):
        reads.append((offset, length))
        return real(fd, offset, length)

    monkeypatch.setattr(runfacts, "_read_range", spy)
    f = read_run_facts(path, now=0)
    assert sum(n for _, n in reads) <= runfacts.HEAD_BYTES + runfacts.TAIL_BYTES
    assert f.config.model_name == "Llama-3.2-1B-Instruct"
    assert (f.outcome.state, f.outcome.steps_done) == ("completed", 60_000)


def test_config_cut_at_the_head_limit_is_read_further(tmp_path):
    before = runfacts.HEAD_BYTES - 600  # the header fits, the YAML block does not
    f = read_run_facts(_big_run(tmp_path, before, 10), now=0)
    assert f.config_error is None
    assert f.config.epochs == 2 and f.config.lora_rank == 8


def test_blank_line_inside_a_quoted_scalar_stays_in_the_config():
    text = (
        "INFO:torchtune.utils._logging:Running LoRAFinetuneRecipeSingleDevice with resolved"
        " config:\n\nbatch_size: 2\nprompt: 'first\n\n  second'\nzeta: 1\n\n"
        "INFO:torchtune.utils._logging:Model is initialized with precision torch.bfloat16.\n"
    )
    c = parse_config(text)
    assert c.raw == {"batch_size": 2, "prompt": "first\nsecond", "zeta": 1}


def test_a_log_line_ends_the_config_even_without_a_blank_line():
    text = "Running KDRecipeSingleDevice with resolved config:\n\nepochs: 3\nHardware ok\n"
    assert parse_config(text).raw == {"epochs": 3}


def test_unparsable_config_becomes_a_field(tmp_path):
    path = tmp_path / "slurm-5.out"
    path.write_text("Running X with resolved config:\n\nkey: [unclosed\nnext: 1\n")
    f = read_run_facts(path, now=0)
    assert f.config is None
    assert f.config_error.startswith("the resolved config is not valid YAML")
    assert f.job_id == "5"


@pytest.mark.parametrize(
    ("tail", "state"),
    [
        (
            "slurmstepd: error: *** JOB 12 ON n1 CANCELLED AT 2025-10-22T01:02:03 DUE TO "
            "PREEMPTION ***\n",
            "cancelled",
        ),
        (
            "slurmstepd: error: *** JOB 12 ON n1 CANCELLED AT 2025-10-22T01:02:03 DUE to SIGNAL "
            "Terminated ***\n",
            "cancelled",
        ),
        (
            "slurmstepd: error: *** STEP 12.0 ON n1 CANCELLED AT 2025-10-22T01:02:03 DUE TO NODE "
            "FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***\n",
            "failed",
        ),
        (
            "slurmstepd: error: Detected 1 oom_kill event in StepId=12.batch. Some of the step "
            "tasks have been OOM Killed.\n",
            "oom",
        ),
        ("slurmstepd: error: Exceeded job memory limit\n", "oom"),
        ("[rank1]: torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate\n", "oom"),
    ],
)
def test_slurm_and_oom_endings(tail, state):
    bars = "\r1|3|Loss: 1.0:  30%|███       | 3/10 [00:03<00:07,  1.00it/s]"
    outcome = classify_outcome(bars + tail, epochs_planned=1, mtime=0, now=10)
    assert outcome.state == state
    assert outcome.detail == tail.strip().removeprefix("[rank1]: ")
    assert outcome.steps_done == 3


def test_a_traceback_followed_by_more_training_is_not_the_end():
    tail = (
        "\r1|3|Loss: 1.0:  30%|███       | 3/10 [00:03<00:07,  1.00it/s]\n"
        'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: logged\n'
        "\r1|4|Loss: 0.9:  40%|████      | 4/10 [00:04<00:06,  1.00it/s]"
    )
    assert classify_outcome(tail, epochs_planned=1, mtime=0, now=10).state == "running"
    assert classify_outcome(tail, epochs_planned=1, mtime=0, now=10 * HOUR).state == "unknown"


@pytest.mark.parametrize(
    ("tail", "detail"),
    [
        ("Traceback (most recent call last):\n" * 3, "Traceback (most recent call last):"),
        (
            "slurmstepd: error: *** JOB 9 ON n1 FAILED (non-zero exit code or other failure "
            "mode) ***\n",
            "slurmstepd: error: *** JOB 9 ON n1 FAILED (non-zero exit code or other failure "
            "mode) ***",
        ),
    ],
)
def test_failure_without_an_exception_line(tail, detail):
    outcome = classify_outcome(tail, mtime=0, now=10)
    assert (outcome.state, outcome.detail) == ("failed", detail)


def test_last_epoch_bar_at_full_and_silent_since_is_completed():
    tail = "\r2|20|Loss: 0.5: 100%|██████████| 10/10 [00:10<00:00,  1.00it/s]\n"
    old = classify_outcome(tail, epochs_planned=2, mtime=0, now=10 * HOUR)
    assert (old.state, old.epochs_done, old.steps_done) == ("completed", 2, 20)
    saving = classify_outcome(tail, epochs_planned=2, mtime=0, now=60)
    assert saving.state == "running"  # still writing its checkpoint


@pytest.mark.parametrize(
    ("component", "name"),
    [
        ("torchtune.models.llama3_2.lora_llama3_2_1b", "Llama-3.2-1B"),
        ("torchtune.models.qwen2_5.qwen2_5_0_5b", "Qwen2.5-0.5B"),
        ("qwen2_5_1_5b_instruct", "Qwen2.5-1.5B-Instruct"),
        ("torchtune.models.qwen2.qwen2_1_5b", "Qwen2-1.5B"),
        ("torchtune.models.llama3_1.qlora_llama3_1_70b", "Llama-3.1-70B"),
        ("torchtune.models.llama2.llama2_7b", "Llama-2-7B"),
        ("torchtune.models.gemma2.gemma2_9b", "Gemma-2-9B"),
        ("torchtune.models.gemma.gemma_2b", "Gemma-2B"),
        ("torchtune.models.mistral.lora_mistral_7b", "Mistral-7B"),
        ("torchtune.models.phi3.phi3_mini", "Phi-3-mini"),
        ("torchtune.models.code_llama2.code_llama2_13b", "CodeLlama-13B"),
        ("torchtune.models.clip.clip_vision_encoder", None),
        ("", None),
    ],
)
def test_model_name_from_component(component, name):
    assert model_name_from_component(component) == name


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Llama-3.2-1B-Instruct", "llama3.2-1b"),
        ("/models/Llama-3.2-1B-Instruct/", "llama3.2-1b"),
        ("torchtune.models.llama3_2.lora_llama3_2_1b", "llama3.2-1b"),
        ("Meta-Llama-3.1-8B-Instruct", "llama3.1-8b"),
        ("Meta-Llama-3-8B", "llama3-8b"),
        ("Qwen2.5-0.5B-Instruct", "qwen2.5-0.5b"),
        ("gemma-2-9b-it", "gemma2-9b"),
        ("gemma-7b", "gemma-7b"),
        ("Mistral-7B-v0.1", "mistral-7b"),
        ("Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"),
        ("Phi-3-mini-4k-instruct", "phi3-mini"),
        ("CodeLlama-7b-hf", "codellama-7b"),
        ("my-model", None),
    ],
)
def test_model_key(name, key):
    assert model_key(name) == key


def test_same_model_rule():
    # Both name a checkpoint directory: the names decide (Instruct is not the base model).
    assert same_model("Llama-3.2-1B-Instruct", "/models/llama-3.2-1b-instruct")
    assert same_model("Meta-Llama-3.1-8B-Instruct", "Llama-3.1-8B-Instruct")
    assert not same_model("Llama-3.2-1B-Instruct", "Llama-3.2-1B")
    # One side only names the builder: family and size decide.
    assert same_model("Llama-3.2-1B-Instruct", "torchtune.models.llama3_2.lora_llama3_2_1b")
    assert not same_model("Llama-3.2-3B-Instruct", "lora_llama3_2_1b")
    assert not same_model("something", "lora_llama3_2_1b")
    assert not same_model(None, "Llama-3.2-1B")


def test_checkpoint_name_skips_download_layouts():
    assert checkpoint_name("/m/Meta-Llama-3-8B/original/") == "Meta-Llama-3-8B"
    hf = "/hf/hub/models--meta-llama--Llama-3.2-1B/snapshots/" + "a" * 40
    assert checkpoint_name(hf) == "Llama-3.2-1B"
    assert checkpoint_name("/") is None


@pytest.mark.parametrize(
    ("name", "job"),
    [
        ("slurm-123.out", "123"),
        ("/x/slurm-123_4.out", "123_4"),
        ("train-987.out", "987"),
        ("notes.txt", None),
    ],
)
def test_job_id_from_name(name, job):
    assert job_id_from_name(name) == job


def test_unreadable_paths_become_an_error(tmp_path):
    missing = read_run_facts(tmp_path / "slurm-1.out")
    assert missing.error.startswith("cannot read")
    assert (missing.config, missing.outcome.state, missing.job_id) == (None, "unknown", "1")
    directory = read_run_facts(tmp_path)
    assert directory.error.endswith("not a regular file")
    fifo = tmp_path / "slurm-2.out"
    os.mkfifo(fifo)
    assert read_run_facts(fifo).error.endswith("not a regular file")


HEADER = b"Running LoRAFinetuneRecipeDistributed with resolved config:\n\n"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.sampled_from([b"", HEADER]),
    body=st.binary(max_size=4096),
)
def test_arbitrary_bytes_never_raise(tmp_path, prefix, body):
    path = tmp_path / "slurm-7.out"
    path.write_bytes(prefix + body)
    f = read_run_facts(path, now=0)
    assert f.outcome.state in runfacts.STATES
    assert f.error is None


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet="0123456789|%:/[]\r\n LosabcINFO*-_.", max_size=3000))
def test_arbitrary_progress_like_text_never_raises(text):
    outcome = classify_outcome(text, epochs_planned=2, mtime=0, now=1)
    assert outcome.state in runfacts.STATES
    parse_config("Running R with resolved config:\n\n" + text)
