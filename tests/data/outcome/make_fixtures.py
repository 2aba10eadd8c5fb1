"""Writes the hand-written outputs of this directory (see README.md for their truths).

Nothing of designlog_magics is used: each line is spelled out from the producing program's
own format string, quoted beside it. Run ``python tests/data/outcome/make_fixtures.py`` to
write them again; the files are committed, so the tests never run this.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
LOG = "INFO:torchtune.utils._logging:"
BAR = "██████████"  # tqdm's 10 columns, full


def config(rank: int, epochs: int, output_dir: str) -> str:
    # torchtune/config/_utils.py log_config:
    #   f"Running {recipe_name} with resolved config:\n\n{cfg_str}"
    #   cfg_str = OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)
    return f"""{LOG}Running LoRAFinetuneRecipeSingleDevice with resolved config:

batch_size: 4
checkpointer:
  _component_: torchtune.training.FullModelHFCheckpointer
  checkpoint_dir: /models/Llama-3.2-1B-Instruct/
  checkpoint_files:
  - model.safetensors
  model_type: LLAMA3_2
  output_dir: {output_dir}
  recipe_checkpoint: null
compile: false
dataset:
  _component_: torchtune.datasets.instruct_dataset
  packed: false
device: cuda
dtype: bf16
epochs: {epochs}
gradient_accumulation_steps: 1
log_every_n_steps: 1
max_steps_per_epoch: null
model:
  _component_: torchtune.models.llama3_2.lora_llama3_2_1b
  apply_lora_to_mlp: true
  lora_alpha: {2 * rank}
  lora_attn_modules:
  - q_proj
  - v_proj
  - output_proj
  lora_dropout: 0.0
  lora_rank: {rank}
output_dir: {output_dir}
seed: 14
shuffle: true
tokenizer:
  _component_: torchtune.models.llama3.llama3_tokenizer
  max_seq_len: 512
  path: /models/Llama-3.2-1B-Instruct/original/tokenizer.model

{LOG}Model is initialized with precision torch.bfloat16.
{LOG}Tokenizer is initialized from file.
{LOG}Optimizer and loss are initialized.
{LOG}Loss is initialized.
{LOG}Learning rate scheduler is initialized.
"""


def interval(seconds: int) -> str:
    # tqdm/std.py format_interval: '{0:d}:{1:02d}:{2:02d}' with hours, else '{0:02d}:{1:02d}'
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def meter(n: int, total: int, elapsed: int, rate: float | None, desc: str = "") -> str:
    # tqdm/std.py format_meter: l_bar '{desc}: {percentage:3.0f}%|', the bar, r_bar
    # '| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]'; rate_fmt is
    # '{0:5.2f}it/s', or '{0:5.2f}s/it' of 1/rate below 1 it/s, '?it/s' without a rate
    filled = n * 10 // total
    bar = BAR[:filled] + " " * (10 - filled)
    if rate is None:
        rate_fmt, remaining = "?it/s", "?"
    else:
        rate_fmt = f"{1 / rate:5.2f}s/it" if rate < 1 else f"{rate:5.2f}it/s"
        remaining = interval(int((total - n) / rate))
    head = f"{desc}: " if desc else ""
    counts = f"{100 * n / total:3.0f}%|{bar}| {n}/{total}"
    return f"{head}{counts} [{interval(elapsed)}<{remaining}, {rate_fmt}]"


def epoch(number: int, first_step: int, total: int, times: list[int], pos: int) -> str:
    """One epoch's bar as torchtune drives it (recipes/lora_finetune_single_device.py):
    pbar.update(1), then pbar.set_description(f"{curr_epoch + 1}|{global_step}|Loss: {loss}").
    A bar at position 1 prints '\\n\\r' + text + '\\x1b[A' (tqdm's moveto)."""
    before, after = ("\n\r", "\x1b[A") if pos else ("\r", "")
    out = [f"{before}{meter(0, total, 0, None)}{after}"]
    desc = ""
    for k, elapsed in enumerate(times, 1):
        rate = k / elapsed
        step = first_step + k - 1
        out.append(f"{before}{meter(k, total, elapsed, rate, desc)}{after}")
        desc = f"{number}|{step}|Loss: {2.5 - 0.1 * step:.4f}"
        out.append(f"{before}{meter(k, total, elapsed, rate, desc)}{after}")
    return "".join(out), desc


def checkpoint(output_dir: str, epoch_index: int, last: bool) -> str:
    # recipes: log.info("Starting checkpoint save..."), "Checkpoint saved in {:.2f} seconds."
    # _checkpointer.py: f"Model checkpoint of size {size:.2f} GiB saved to {output_path}",
    # "Saving final epoch checkpoint."
    lines = [
        f"{LOG}Starting checkpoint save...",
        f"{LOG}Model checkpoint of size 2.30 GiB saved to {output_dir}/epoch_{epoch_index}/"
        "ft-model-00001-of-00001.safetensors",
    ]
    if last:
        lines.append(f"{LOG}Saving final epoch checkpoint.")
    lines.append(f"{LOG}Checkpoint saved in 58.40 seconds.")
    return "\n".join(lines) + "\n"


def killed() -> str:
    out = config(16, 2, "/scratch/runs/r16")
    bar1, desc1 = epoch(1, 1, 6, [150, 300, 450, 600, 750, 900], 0)
    out += bar1 + checkpoint("/scratch/runs/r16", 0, False)
    # the next epoch's bar opens at position 1, then the old one closes (leave=True):
    # its last print is the whole epoch with its average rate, 6 steps in 960 s
    bar2, _ = epoch(2, 7, 6, [150, 300], 1)
    first, rest = bar2.split("\x1b[A", 1)
    out += first + "\x1b[A" + f"\r{meter(6, 6, 960, 6 / 960, desc1)}\n" + rest
    # SLURM src/slurmd/slurmstepd/req.c: "*** %s ON %s CANCELLED AT %s DUE TO TIME LIMIT ***"
    out += (
        "slurmstepd: error: *** JOB 123 ON node CANCELLED AT 2025-10-22T15:00:00 "
        "DUE TO TIME LIMIT ***\n"
    )
    return out


def oom_at_start() -> str:
    out = config(8, 1, "/scratch/runs/r8")
    out += f"\r{meter(0, 4, 0, None)}"
    out += (
        "Traceback (most recent call last):\n"
        '  File "/opt/conda/lib/python3.11/site-packages/recipes/lora_finetune_single_device.py",'
        " line 802, in <module>\n"
        "    sys.exit(recipe_main())\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a "
        "total capacity of 39.38 GiB of which 1.02 GiB is free.\n"
    )
    return out


def completed() -> str:
    out = config(8, 1, "/scratch/runs/r8")
    bar, desc = epoch(1, 1, 4, [60, 120, 180, 240], 0)
    out += bar + checkpoint("/scratch/runs/r8", 0, True)
    # the last bar closes when the recipe returns, after the final save: 4 steps in 270 s
    out += f"\r{meter(4, 4, 270, 4 / 270, desc)}\n"
    return out


def running() -> str:
    out = config(32, 2, "/scratch/runs/r32")
    bar, _ = epoch(1, 1, 6, [40, 80, 120], 0)
    return out + bar


def eval_done() -> str:
    # inspect_ai/_display/core/panel.py task_title and core/results.py task_stats (80 columns)
    title = "capitalization (1,000 samples): hf/r8_epoch_1"
    rows = [
        "[10/22/25 15:20:11] INFO     Loading model hf/r8_epoch_1                  hf.py:112",
        "╭" + "─" * 78 + "╮",
        "│" + title.ljust(78) + "│",
        "╰" + "─" * 78 + "╯",
        "max_tokens: 16, dataset: words_8L_80P_10000.json (test)".ljust(80),
        " " * 80,
        ("total time:".ljust(36) + "0:03:30.250000").ljust(80),
        ("hf/r8_epoch_1".ljust(36) + "96,412 tokens [I: 88,412, O: 8,000]").ljust(80),
        " " * 80,
        "match".ljust(80),
        "accuracy  0.431".ljust(80),
        "stderr    0.016".ljust(80),
        " " * 80,
        "Log: logs/2025-10-22T15-20-11+00-00_capitalization_Q2k8vR4mZt.eval".ljust(80),
    ]
    return "\n".join(rows) + "\n"


def eval_killed() -> str:
    return (
        "[10/22/25 15:50:02] INFO     Loading model hf/r16_epoch_1                 hf.py:112\n"
        "slurmstepd: error: *** JOB 402 ON node CANCELLED AT 2025-10-22T16:10:00 DUE TO "
        "TIME LIMIT ***\n"
    )


FILES = {
    "killed/slurm-123.out": killed,
    "several/slurm-200.out": oom_at_start,
    "several/slurm-201.out": completed,
    "running/slurm-300.out": running,
    "eval-done/slurm-401.out": eval_done,
    "eval-killed/slurm-402.out": eval_killed,
}

if __name__ == "__main__":
    for name, make in FILES.items():
        path = HERE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make().encode())
        print(path)
