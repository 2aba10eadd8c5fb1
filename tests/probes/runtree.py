"""A hand-made tree of prior torchtune runs, written from the producers' own formats.

Not made by the package's synthetic generator. Where each line comes from:

* the resolved config: torchtune ``torchtune/config/_utils.py`` ``log_config``:
  ``f"Running {recipe_name} with resolved config:\\n\\n{cfg_str}"`` with
  ``OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)`` (block style, sorted keys, lists at
  the key's indent), logged by ``torchtune.utils._logging`` (as in tests/data/torchtune);
* progress: tqdm's own ``tqdm.format_meter`` (the real library), printed as ``\\r`` + text;
  torchtune's description ``f"{curr_epoch + 1}|{self.global_step}|Loss: {loss_to_log}"`` set
  after ``pbar.update(1)`` (``recipes/lora_finetune_single_device.py``), so each step prints
  twice;
* ``StdoutLogger.log_dict`` (``torchtune/training/metric_logging.py``):
  ``print(f"Step {step} | ", end="")``, ``print(f"{name}:{data} ", end="")``, a newline;
* the end: ``Starting checkpoint save...``, ``Model checkpoint of size {:.2f} GiB saved to
  {output_path}``, ``Saving final epoch checkpoint.``, ``Checkpoint saved in {:.2f} seconds.``
  (recipe and ``training/checkpointing/_checkpointer.py``); SLURM's ``*** JOB %u ON %s
  CANCELLED AT %s DUE TO TIME LIMIT ***`` (``src/slurmd/slurmstepd/req.c``); PyTorch's
  ``torch.OutOfMemoryError: CUDA out of memory. Tried to allocate ...``.

Each run's truth (its it/s after the warmup, its tokens/s, how it ended) is in ``RUNS``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

DAY = 86400.0
NOW = 1_761_000_000.0

CONFIG = """\
INFO:torchtune.utils._logging:Running LoRAFinetuneRecipeSingleDevice with resolved config:

batch_size: {batch_size}
checkpointer:
  _component_: torchtune.training.FullModelHFCheckpointer
  checkpoint_dir: {checkpoint_dir}
  checkpoint_files:
  - model.safetensors
  model_type: LLAMA3_2
  output_dir: /scratch/runs/{name}
  recipe_checkpoint: null
compile: false
dataset:
  _component_: torchtune.datasets.alpaca_cleaned_dataset
  packed: false
device: cuda
dtype: bf16
epochs: 1
gradient_accumulation_steps: {accumulation}
log_every_n_steps: 1
max_steps_per_epoch: null
metric_logger:
  _component_: torchtune.training.metric_logging.StdoutLogger
model:
  _component_: {component}
  lora_alpha: 16
  lora_attn_modules:
  - q_proj
  - v_proj
  lora_rank: 8
optimizer:
  _component_: torch.optim.AdamW
  lr: 0.0003
output_dir: /scratch/runs/{name}
seed: 1234
tokenizer:
  _component_: torchtune.models.llama3.llama3_tokenizer
  max_seq_len: {max_seq_len}
  path: {checkpoint_dir}original/tokenizer.model

INFO:torchtune.utils._logging:Model is initialized with precision torch.bfloat16.
INFO:torchtune.utils._logging:Tokenizer is initialized from file.
INFO:torchtune.utils._logging:Loss is initialized.
"""


@dataclass(frozen=True)
class HandRun:
    name: str
    job: int
    model: str = "Llama-3.2-1B-Instruct"
    component: str = "torchtune.models.llama3_2.lora_llama3_2_1b"
    batch_size: int = 4
    accumulation: int = 1
    max_seq_len: int = 512
    steps: int = 300  # steps in the epoch's bar
    done: int = 300  # steps made
    its: float = 4.34  # after the warmup
    tokens: float = 3900.0  # tokens/s per GPU after the warmup
    end: str = "completed"  # completed, timeout, oom
    days_ago: float = 5.0

    @property
    def truth_its(self) -> float | None:
        return None if self.end == "oom" else self.its


WARMUP = 20

RUNS = (
    HandRun("ck-out-happy-narwhal", 101, days_ago=9),
    HandRun("ck-out-bright-horizon", 102, batch_size=8, its=2.31, tokens=4150.0, days_ago=7),
    HandRun(
        "ck-out-big-llama",
        103,
        model="Llama-3.1-8B-Instruct",
        component="torchtune.models.llama3_1.lora_llama3_1_8b",
        its=0.57,
        tokens=520.0,
        days_ago=6,
    ),
    HandRun("ck-out-oom-run", 104, batch_size=16, max_seq_len=2048, done=0, end="oom", days_ago=3),
    HandRun("ck-out-swift-otter", 105, done=250, its=3.95, tokens=3560.0, end="timeout"),
    HandRun("ck-out-tiny-heron", 106, steps=12, done=12, its=4.4, tokens=3950.0, days_ago=1),
)


def _prints(run: HandRun) -> str:
    """Each step: the update, the re-render with the new description, the StdoutLogger line."""
    parts = []
    desc = ""
    elapsed = 0.0
    for n in range(1, run.done + 1):
        slow = 1 + 2 * (WARMUP - n) / WARMUP if n <= WARMUP else 1.0
        rate = run.its / slow
        elapsed += 1 / rate
        meter = tqdm.format_meter(n, run.steps, elapsed, rate=rate)
        parts.append(f"\r{desc}: {meter}" if desc else f"\r{meter}")
        desc = f"1|{n}|Loss: {2.5 - n / 1000!r}"
        parts.append(f"\r{desc}: {meter}")
        tps = run.tokens / slow * (1 + (0.02 if n % 2 else -0.02))
        parts.append(f"Step {n} | loss:{2.5 - n / 1000!r} lr:0.0003 ")
        parts.append(f"tokens_per_second_per_gpu:{tps:.4f} \n")
    return "".join(parts)


def _end(run: HandRun) -> str:
    log = "INFO:torchtune.utils._logging:"
    if run.end == "completed":
        return (
            f"{log}Starting checkpoint save...\n"
            f"{log}Model checkpoint of size 2.30 GiB saved to /scratch/runs/{run.name}/epoch_0/"
            "ft-model-00001-of-00001.safetensors\n"
            f"{log}Saving final epoch checkpoint.\n"
            f"{log}Checkpoint saved in 4.87 seconds.\n"
        )
    if run.end == "timeout":
        return (
            f"slurmstepd: error: *** JOB {run.job} ON gpu-node-07 CANCELLED AT "
            "2025-10-22T14:23:15 DUE TO TIME LIMIT ***\n"
        )
    return (
        f"\r{tqdm.format_meter(0, run.steps, 0)}Traceback (most recent call last):\n"
        '  File "/opt/venv/lib/python3.11/site-packages/torch/_tensor.py", line 626, in backward\n'
        "    torch.autograd.backward(\n"
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 7.83 GiB. GPU 0 has a "
        "total capacity of 39.38 GiB of which 3.12 GiB is free.\n"
    )


def write_tree(root: Path) -> dict[str, Path]:
    """The runs of ``RUNS`` under ``root/<name>/slurm-<job>.out``; their paths by name."""
    paths = {}
    for run in RUNS:
        directory = root / run.name
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"slurm-{run.job}.out"
        text = CONFIG.format(
            batch_size=run.batch_size,
            checkpoint_dir=f"/models/{run.model}/",
            name=run.name,
            accumulation=run.accumulation,
            component=run.component,
            max_seq_len=run.max_seq_len,
        )
        text += _prints(run) + _end(run)
        path.write_text(text, encoding="utf-8")
        stamp = NOW - run.days_ago * DAY
        os.utime(path, (stamp, stamp))
        paths[run.name] = path
    return paths
