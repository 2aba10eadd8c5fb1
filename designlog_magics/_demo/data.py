"""A cluster's scratch space in miniature, deterministic, for the demo and the tests.

:func:`build_demo_data` writes, in a second and a few MB, what the design of a fine-tuning
experiment looks at on a real cluster::

    models/Llama-3.2-1B-Instruct/      config.json, tokenizer files, a small model.safetensors
    repo/data/green/capitalization/    words_8L_80P_10000.json (train/validation/test splits)
    scratch/ck-out-<adjective>-<animal>/slurm-<id>.out
                                       prior torchtune runs, each starting with its resolved
                                       config (tqdm progress with \\r, warmup, StdoutLogger
                                       lines, checkpoint saves; runs like the plan and unlike
                                       it: another batch size, another model in s/it, a run
                                       killed at its time limit, one out of memory at its
                                       first step, a smoke test)
    scratch/old-ck-out-2024/           a decoy the default search must not match
    scratch/data-prep/, scratch/eval-cap-8L/
                                       outputs of jobs that are not training runs

Everything is deterministic: two builds are byte for byte the same (and so are the prior
runs' modification times), so the speeds the notebook extracts can be checked against
:class:`DemoFacts`.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import random
import shutil
import statistics
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import synthetic
from .history import write_history

MODEL_NAME = "Llama-3.2-1B-Instruct"
DATASET_RELATIVE = Path("data/green/capitalization/words_8L_80P_10000.json")
MARKER = ".designlog-demo"
ENV_WORKSPACE = "DESIGNLOG_DEMO_DIR"
DEMO_NOTEBOOK = "design_experiment.ipynb"
SEARCH_NAME = "slurm-*.out"
SEARCH_PATH = "*/ck-out-*"
SEARCH_MIN_KIB = 100  # find -size +100k: more than 100 blocks of 1 KiB, rounded up
_VERSION = 1


# -- facts ------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class DemoRun:
    """One SLURM output of the demo scratch space, and the truth about it."""

    name: str  # the run's directory, e.g. "ck-out-happy-narwhal"
    job_id: int
    path: Path  # .../scratch/<name>/slurm-<job_id>.out
    kind: str  # training, slow, killed, failed, smoke, decoy, unrelated
    size: int  # bytes
    steady_its: float | None  # true speed after warmup (None: no training progress)
    epochs: int | None = None
    steps_per_epoch: int | None = None
    description: str = ""
    config: synthetic.TorchtuneConfig | None = None  # what its resolved config says
    tokens_per_s: float | None = None  # true tokens/s per GPU (None: none logged)
    outcome: str | None = None  # how it ended: completed, timeout, oom (None: not a run)

    @property
    def matches_search(self) -> bool:
        """Whether ``find SCRATCH -name 'slurm-*.out' -path '*/ck-out-*' -size +100k`` lists it."""
        return find_matches(self.path, self.size)

    def __repr__(self) -> str:
        speed = f", {self.steady_its:g} it/s" if self.steady_its else ""
        return f"DemoRun({self.name}/{self.path.name}, {self.kind}, {self.size:,} B{speed})"


@dataclass(frozen=True)
class DemoFacts:
    """Where the demo data is and what it holds (paths are absolute)."""

    root: Path
    models_dir: Path
    repo_dir: Path
    scratch_dir: Path
    model_dir: Path
    dataset: Path
    dataset_splits: Mapping[str, int]
    runs: tuple[DemoRun, ...]
    reference_run: str  # the prior run the notebook takes its speed from
    total_bytes: int
    files: int
    seconds: float = field(default=0.0, compare=False)

    def run(self, name: str) -> DemoRun:
        """The run in directory ``name`` (``ck-out-happy-narwhal``)."""
        for run in self.runs:
            if run.name == name:
                return run
        raise KeyError(name)

    @property
    def reference(self) -> DemoRun:
        return self.run(self.reference_run)

    @property
    def search_matches(self) -> tuple[Path, ...]:
        """What the default prior-run search finds, sorted."""
        return tuple(sorted(r.path for r in self.runs if r.matches_search))

    @property
    def speeds(self) -> dict[str, float]:
        """True steady speed (it/s) of every run with training progress, by directory name."""
        return {r.name: r.steady_its for r in self.runs if r.steady_its}

    @property
    def paths(self) -> dict[str, str]:
        """The path names a design binds with ``%designlog start ... --paths``."""
        return {
            "models_dir": str(self.models_dir),
            "repo_dir": str(self.repo_dir),
            "scratch_dir": str(self.scratch_dir),
        }

    def describe(self) -> str:
        """A few lines for people: where things are and what the search should find."""
        lines = [
            f"demo data in {self.root} ({self.files} files, {self.total_bytes / 1e6:.1f} MB)",
            f"  models_dir  = {self.models_dir}",
            f"  repo_dir    = {self.repo_dir}",
            f"  scratch_dir = {self.scratch_dir}",
            f"  dataset: {self.dataset.relative_to(self.root)} "
            + "("
            + ", ".join(f"{k} {v:,}" for k, v in self.dataset_splits.items())
            + ")",
            "  SLURM outputs:",
        ]
        for run in self.runs:
            mark = "*" if run.matches_search else " "
            speed = f"{run.steady_its:g} it/s" if run.steady_its else "no progress"
            lines.append(
                f"   {mark} {run.path.relative_to(self.scratch_dir)}  {run.size / 1024:,.0f} KiB  "
                f"{run.kind}, {speed}"
            )
        lines.append("  (* found by find -name 'slurm-*.out' -path '*/ck-out-*' -size +100k)")
        return "\n".join(lines)


def find_matches(path: str | os.PathLike[str], size: int) -> bool:
    """``find``'s ``-name 'slurm-*.out' -path '*/ck-out-*' -size +100k`` on one file."""
    text = os.fspath(path)
    return (
        fnmatch.fnmatchcase(os.path.basename(text), SEARCH_NAME)
        and fnmatch.fnmatchcase(text, SEARCH_PATH)
        and math.ceil(size / 1024) > SEARCH_MIN_KIB
    )


# -- the runs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _RunSpec:
    directory: str
    job_id: int
    kind: str
    description: str
    days_ago: float  # before the demo's "today", for modification times
    steady_its: float = 0.0
    epochs: int = 1
    target_bytes: int | None = None
    steps_per_epoch: int = 500
    validation_every: int | None = None
    killed: bool = False
    seed: int = 0
    config: synthetic.TorchtuneConfig | None = None


# The plan of the demo: LoRA r8 of Llama-3.2-1B-Instruct, batch size 4, sequences of 512.
_PLAN = synthetic.TorchtuneConfig()
_LLAMA_8B = synthetic.TorchtuneConfig(
    model="Llama-3.1-8B-Instruct",
    component="torchtune.models.llama3_1.lora_llama3_1_8b",
    model_type="LLAMA3",
    metric_logger="DiskLogger",
    tokens_per_step=900.0,
)


_RUNS: tuple[_RunSpec, ...] = (
    _RunSpec(
        "ck-out-happy-narwhal",
        4187301,
        "training",
        "LoRA r8 of Llama-3.2-1B-Instruct, batch size 4, max_seq_len 512, 2 epochs, a "
        "checkpoint per epoch: the run like the plan",
        9.2,
        steady_its=4.34,
        epochs=2,
        target_bytes=430_000,
        seed=11,
        config=_PLAN,
    ),
    _RunSpec(
        "ck-out-bright-horizon",
        4190412,
        "training",
        "the same recipe with batch size 8 (twice the tokens a step: fewer it/s, more "
        "tokens/s) and validation every 150 steps",
        7.6,
        steady_its=2.31,
        target_bytes=300_000,
        validation_every=150,
        seed=12,
        config=synthetic.TorchtuneConfig(batch_size=8, tokens_per_step=1800.0),
    ),
    _RunSpec(
        "ck-out-calm-dolphin",
        4195547,
        "slow",
        "another model (Llama-3.1-8B-Instruct), slow: tqdm prints s/it below 1 it/s; "
        "tokens/s in torchtune's DiskLogger file",
        5.3,
        steady_its=0.57,
        target_bytes=170_000,
        seed=13,
        config=_LLAMA_8B,
    ),
    _RunSpec(
        "ck-out-swift-otter",
        4201876,
        "killed",
        "the plan's settings with LoRA r16, cancelled at its time limit in its second "
        "epoch (no final bar)",
        3.9,
        steady_its=3.95,
        epochs=2,
        target_bytes=230_000,
        killed=True,
        seed=14,
        config=synthetic.TorchtuneConfig(lora_rank=16, lora_alpha=32),
    ),
    _RunSpec(
        "ck-out-quiet-falcon",
        4203311,
        "failed",
        "batch size 16 and sequences of 2048: CUDA out of memory in its first step (a small "
        "file the default -size +100k hides)",
        3.1,
        seed=15,
        config=synthetic.TorchtuneConfig(batch_size=16, max_seq_len=2048),
    ),
    _RunSpec(
        "ck-out-tiny-heron",
        4205120,
        "smoke",
        "a 120-step smoke test of the plan's settings: too small for the default search",
        2.4,
        steady_its=4.4,
        steps_per_epoch=120,
        seed=16,
        config=_PLAN,
    ),
    _RunSpec(
        "old-ck-out-2024",
        3950021,
        "decoy",
        "last year's run in a directory the path pattern */ck-out-* does not match",
        330.0,
        steady_its=3.1,
        target_bytes=200_000,
        seed=17,
    ),
    _RunSpec(
        "data-prep",
        4180001,
        "unrelated",
        "tokenization of a dataset: numbers, but no progress bars",
        11.0,
        seed=18,
    ),
    _RunSpec(
        "eval-cap-8L",
        4210007,
        "unrelated",
        "an evaluation job's output, outside any ck-out-* directory",
        1.2,
        seed=19,
    ),
)
# An inspect-ai evaluation of the base model on the test split: its end-of-eval summary gives
# the evaluation throughput the plan's evaluation time is estimated from.
EVAL_OUTPUT = "inspect-cap-8L-base/slurm-4211002.out"
EVAL_SECONDS = 250.5
EVAL_SAMPLES = 1000
REFERENCE_RUN = "ck-out-happy-narwhal"
# The demo's "today", for modification times only (nothing reads the clock: builds are equal).
_TODAY = datetime(2025, 10, 22, 9, 0, 0).timestamp()


def _write_eval_output(scratch: Path) -> Path:
    """An inspect-ai run's output as its rich display prints it at the end (80 columns)."""
    path = scratch / EVAL_OUTPUT
    path.parent.mkdir(parents=True, exist_ok=True)
    minutes, seconds = divmod(EVAL_SECONDS, 60)
    title = f"capitalization ({EVAL_SAMPLES:,} samples): hf/Llama-3.2-1B-Instruct"
    rows = [
        "host=gpu-node-02 jobid=4211002",
        "[10/21/25 16:40:02] INFO     Loading model hf/Llama-3.2-1B-Instruct        hf.py:112",
        "╭" + "─" * 78 + "╮",
        "│" + title.ljust(78) + "│",
        "╰" + "─" * 78 + "╯",
        "max_tokens: 16, dataset: words_8L_80P_10000.json (test)".ljust(80),
        " " * 80,
        ("total time:".ljust(36) + f"0:{int(minutes):02d}:{seconds:09.6f}").ljust(80),
        ("hf/Llama-3.2-1B-Instruct".ljust(36) + "96,412 tokens [I: 88,412, O: 8,000]").ljust(80),
        " " * 80,
        "match".ljust(80),
        "accuracy  0.412".ljust(80),
        "stderr    0.016".ljust(80),
        " " * 80,
        "Log: logs/2025-10-21T16-40-02+00-00_capitalization_Q2k8vR4mZt.eval".ljust(80),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    os.utime(path, (_TODAY - 86400, _TODAY - 86400))
    return path


def _write_run(scratch: Path, spec: _RunSpec) -> DemoRun:
    directory = scratch / spec.directory
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"slurm-{spec.job_id}.out"
    epochs: int | None = None
    steps: int | None = None
    steady: float | None = None
    tokens: float | None = None
    outcome: str | None = None
    if spec.kind == "failed":
        synthetic.write_failed_out(path, seed=spec.seed, config=spec.config, job_id=spec.job_id)
        outcome = "oom"
    elif spec.kind == "unrelated":
        synthetic.write_unrelated_out(path, seed=spec.seed)
    else:
        facts = synthetic.write_torchtune_out(
            path,
            steady_its=spec.steady_its,
            epochs=spec.epochs,
            steps_per_epoch=spec.steps_per_epoch,
            target_bytes=spec.target_bytes,
            validation_every=spec.validation_every,
            killed=spec.killed,
            seed=spec.seed,
            job_id=spec.job_id,
            config=spec.config,
        )
        epochs, steps, steady = facts.epochs_started, facts.steps_per_epoch, facts.steady_its
        tokens = facts.tokens_per_s
        outcome = "timeout" if spec.killed else "completed"
        disk = _write_run_extras(directory, spec, epochs if not spec.killed else epochs - 1)
        tokens = disk if disk is not None else tokens
    stamp = _TODAY - spec.days_ago * 86400
    os.utime(path, (stamp, stamp))
    return DemoRun(
        name=spec.directory,
        job_id=spec.job_id,
        path=path.resolve(),
        kind=spec.kind,
        size=path.stat().st_size,
        steady_its=steady,
        epochs=epochs,
        steps_per_epoch=steps,
        description=spec.description,
        config=spec.config,
        tokens_per_s=tokens,
        outcome=outcome,
    )


def _write_run_extras(directory: Path, spec: _RunSpec, finished_epochs: int) -> float | None:
    """What torchtune leaves beside the SLURM output: epoch checkpoints, and the log file of
    a run whose config has the DiskLogger (the same ``Step N | ...`` lines StdoutLogger
    prints). Returns the true tokens/s per GPU of that log (the median after its warmup)."""
    tokens = None
    config = spec.config
    if config is not None and config.metric_logger == "DiskLogger":
        logs = directory / "logs"
        logs.mkdir(exist_ok=True)
        rng = random.Random(spec.seed)
        lines = []
        values = []
        loss = 2.5
        for step in range(1, 41):
            loss = max(0.3, loss * 0.97 + (rng.random() - 0.5) * 0.05)
            value = config.tokens_per_step * spec.steady_its * (0.9 + 0.2 * rng.random())
            values.append(round(value, 2))
            lines.append(
                f"Step {step} | loss:{loss:.4f} lr:{config.lr} "
                f"tokens_per_second_per_gpu:{value:.2f} "
            )
        (logs / synthetic.disk_log_name(spec.job_id)).write_text("\n".join(lines) + "\n")
        tokens = statistics.median(values[4:])  # 10% of 40 logged steps are warmup
    for epoch in range(finished_epochs):
        checkpoint = directory / f"epoch_{epoch}"
        checkpoint.mkdir(exist_ok=True)
        (checkpoint / "config.json").write_text(_json(_model_config()))
        (checkpoint / "generation_config.json").write_text(_json(_generation_config()))
    return tokens


# -- the model ----------------------------------------------------------------------------------
def _model_config() -> dict[str, Any]:
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 128000,
        "eos_token_id": [128001, 128008, 128009],
        "head_dim": 64,
        "hidden_act": "silu",
        "hidden_size": 2048,
        "initializer_range": 0.02,
        "intermediate_size": 8192,
        "max_position_embeddings": 131072,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": 32,
        "num_hidden_layers": 16,
        "num_key_value_heads": 8,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": {
            "factor": 32.0,
            "high_freq_factor": 4.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 8192,
            "rope_type": "llama3",
        },
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0.dev0",
        "use_cache": True,
        "vocab_size": 128256,
    }


def _generation_config() -> dict[str, Any]:
    return {
        "bos_token_id": 128000,
        "do_sample": True,
        "eos_token_id": [128001, 128008, 128009],
        "temperature": 0.6,
        "top_p": 0.9,
        "transformers_version": "4.45.0.dev0",
    }


_SPECIAL_TOKENS = {
    128000: "<|begin_of_text|>",
    128001: "<|end_of_text|>",
    128002: "<|reserved_special_token_0|>",
    128003: "<|reserved_special_token_1|>",
    128004: "<|finetune_right_pad_id|>",
    128005: "<|reserved_special_token_2|>",
    128006: "<|start_header_id|>",
    128007: "<|end_header_id|>",
    128008: "<|eom_id|>",
    128009: "<|eot_id|>",
    128010: "<|python_tag|>",
}


def _added_token(token_id: int, content: str) -> dict[str, Any]:
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def _byte_symbols() -> list[str]:
    """The printable stand-ins byte-level BPE uses for the 256 byte values."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    symbols = {}
    extra = 0
    for value in range(256):
        if value in printable:
            symbols[value] = chr(value)
        else:
            symbols[value] = chr(256 + extra)
            extra += 1
    return [symbols[value] for value in range(256)]


def _tokenizer(words: Sequence[str]) -> dict[str, Any]:
    """A small byte-level BPE tokenizer in the tokenizers JSON format (a stand-in vocabulary:
    the 256 bytes, then the letter pairs of the dataset's words)."""
    vocab: dict[str, int] = {symbol: index for index, symbol in enumerate(_byte_symbols())}
    pairs: dict[str, int] = {}
    for word in words:
        for a, b in zip(word, word[1:], strict=False):
            pairs[a + b] = pairs.get(a + b, 0) + 1
    merges = [pair for pair, _ in sorted(pairs.items(), key=lambda item: (-item[1], item[0]))]
    for pair in merges:
        vocab.setdefault(pair, len(vocab))
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [_added_token(i, t) for i, t in _SPECIAL_TOKENS.items()],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {
                        "Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
                        "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
                    },
                    "behavior": "Isolated",
                    "invert": False,
                },
                {
                    "type": "ByteLevel",
                    "add_prefix_space": False,
                    "trim_offsets": True,
                    "use_regex": False,
                },
            ],
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
            ],
            "pair": [
                {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {
                "<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000], "tokens": []}
            },
        },
        "decoder": {
            "type": "ByteLevel",
            "add_prefix_space": True,
            "trim_offsets": True,
            "use_regex": True,
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": True,
            "vocab": vocab,
            "merges": [f"{pair[0]} {pair[1]}" for pair in merges],
        },
    }


_CHAT_TEMPLATE = (
    "{{- bos_token }}\n"
    "{%- for message in messages %}\n"
    "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}\n"
    "    {{- message['content'] | trim + '<|eot_id|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n"
)


def _tokenizer_config() -> dict[str, Any]:
    return {
        "added_tokens_decoder": {
            str(i): {k: v for k, v in _added_token(i, t).items() if k != "id"}
            for i, t in _SPECIAL_TOKENS.items()
        },
        "bos_token": "<|begin_of_text|>",
        "chat_template": _CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 131072,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def _special_tokens_map() -> dict[str, Any]:
    def token(content: str) -> dict[str, Any]:
        return {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
        }

    return {"bos_token": token("<|begin_of_text|>"), "eos_token": token("<|eot_id|>")}


# A Llama in miniature: the real model's tensor names, tiny shapes (hidden 16, 2 layers).
_HIDDEN, _KV, _FFN, _VOCAB, _LAYERS = 16, 8, 32, 64, 2


def _tensor_shapes() -> dict[str, list[int]]:
    shapes = {"model.embed_tokens.weight": [_VOCAB, _HIDDEN], "model.norm.weight": [_HIDDEN]}
    for layer in range(_LAYERS):
        prefix = f"model.layers.{layer}."
        shapes.update(
            {
                prefix + "input_layernorm.weight": [_HIDDEN],
                prefix + "post_attention_layernorm.weight": [_HIDDEN],
                prefix + "self_attn.q_proj.weight": [_HIDDEN, _HIDDEN],
                prefix + "self_attn.k_proj.weight": [_KV, _HIDDEN],
                prefix + "self_attn.v_proj.weight": [_KV, _HIDDEN],
                prefix + "self_attn.o_proj.weight": [_HIDDEN, _HIDDEN],
                prefix + "mlp.gate_proj.weight": [_FFN, _HIDDEN],
                prefix + "mlp.up_proj.weight": [_FFN, _HIDDEN],
                prefix + "mlp.down_proj.weight": [_HIDDEN, _FFN],
            }
        )
    return shapes


def _bf16(value: float) -> bytes:
    """A float as bfloat16 (the top half of its float32, rounded to nearest even)."""
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    bits += 0x7FFF + ((bits >> 16) & 1)
    return struct.pack("<H", (bits >> 16) & 0xFFFF)


def safetensors_bytes(seed: int = 0) -> bytes:
    """A valid safetensors file: an 8-byte header length, the JSON header, the tensor data."""
    rng = random.Random(seed)
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    chunks = []
    offset = 0
    for name, shape in sorted(_tensor_shapes().items()):
        count = math.prod(shape)
        if name.endswith("norm.weight"):
            data = _bf16(1.0) * count
        else:
            data = b"".join(_bf16(rng.gauss(0.0, 0.02)) for _ in range(count))
        header[name] = {
            "dtype": "BF16",
            "shape": shape,
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def read_safetensors_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a safetensors file (checked: offsets cover the data exactly)."""
    data = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    spans = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
    end = 0
    for start, stop in spans:
        if start != end:
            raise ValueError(f"tensor data not contiguous at byte {start}")
        end = stop
    if 8 + length + end != len(data):
        raise ValueError("tensor data does not end where the file does")
    return header


_MODEL_README = """\
# Llama-3.2-1B-Instruct (demo stand-in)

Built by `designlog_magics.demo`: the real model's configuration and tokenizer layout, with a
miniature `model.safetensors` (the real tensor names, tiny shapes) so the design notebook can
verify a model directory in seconds. It is not a usable model.
"""


def _write_model(models: Path, words: Sequence[str]) -> Path:
    model = models / MODEL_NAME
    (model / "original").mkdir(parents=True, exist_ok=True)
    (model / "config.json").write_text(_json(_model_config()))
    (model / "generation_config.json").write_text(_json(_generation_config()))
    (model / "special_tokens_map.json").write_text(_json(_special_tokens_map()))
    (model / "tokenizer_config.json").write_text(_json(_tokenizer_config()))
    (model / "tokenizer.json").write_text(_json(_tokenizer(words)))
    (model / "model.safetensors").write_bytes(safetensors_bytes(seed=3))
    (model / "README.md").write_text(_MODEL_README)
    (model / "original" / "params.json").write_text(
        _json(
            {
                "dim": 2048,
                "ffn_dim_multiplier": 1.5,
                "multiple_of": 256,
                "n_heads": 32,
                "n_kv_heads": 8,
                "n_layers": 16,
                "norm_eps": 1e-05,
                "rope_theta": 500000.0,
                "use_scaled_rope": True,
                "vocab_size": 128256,
            }
        )
    )
    return model


# -- the dataset ----------------------------------------------------------------------------------
_ONSETS = ("b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "br", "st", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
_CODAS = ("", "n", "r", "l", "s", "t", "m", "nd", "rt", "st")


def demo_words(count: int = 10_000, length: int = 8, seed: int = 8) -> list[str]:
    """``count`` distinct pronounceable made-up words of ``length`` letters."""
    rng = random.Random(seed)
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < count:
        word = ""
        while len(word) < length:
            word += rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
        word = word[:length]
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _dataset(words: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """80% train, 10% validation, 10% test: each record a word and its capitalized form."""
    records = [
        {"instruction": "Capitalize", "input": word, "output": word.upper()} for word in words
    ]
    train, validation = len(records) * 8 // 10, len(records) * 9 // 10
    return {
        "train": records[:train],
        "validation": records[train:validation],
        "test": records[validation:],
    }


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- building -------------------------------------------------------------------------------------
def build_demo_data(target: str | os.PathLike[str]) -> DemoFacts:
    """Write the demo data under ``target`` (created if needed) and return its facts.

    Idempotent: building again rewrites the same bytes and leaves anything else in ``target``
    (an experiment directory under ``scratch/``, an executed notebook) alone.
    """
    started = time.perf_counter()
    root = Path(target).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(f"designlog_magics demo data, version {_VERSION}\n")
    ignore = root / ".gitignore"
    if not ignore.exists():  # the workspace is generated: keep it out of version control
        ignore.write_text("*\n")
    models, repo, scratch = root / "models", root / "repo", root / "scratch"
    words = demo_words()
    model = _write_model(models, words)
    dataset = repo / DATASET_RELATIVE
    dataset.parent.mkdir(parents=True, exist_ok=True)
    splits = _dataset(words)
    dataset.write_text(json.dumps(splits, separators=(",", ":")) + "\n")
    scratch.mkdir(parents=True, exist_ok=True)
    runs = tuple(_write_run(scratch, spec) for spec in _RUNS)
    _write_eval_output(scratch)
    write_history(scratch)  # past experiments with finished runs, for calibrate
    total = files = 0
    for base in (models, repo, scratch):
        for directory, _, names in os.walk(base):
            for name in names:
                files += 1
                total += os.path.getsize(os.path.join(directory, name))
    return DemoFacts(
        root=root,
        models_dir=models,
        repo_dir=repo,
        scratch_dir=scratch,
        model_dir=model,
        dataset=dataset,
        dataset_splits={k: len(v) for k, v in splits.items()},
        runs=runs,
        reference_run=REFERENCE_RUN,
        total_bytes=total,
        files=files,
        seconds=time.perf_counter() - started,
    )


def clear_previous_design(experiment_dir: str | os.PathLike[str]) -> bool:
    """Remove an experiment directory left by an earlier run of the demo, so the demo starts a
    new design log; returns whether there was one. Refuses anything outside demo data."""
    directory = Path(experiment_dir).expanduser().resolve()
    root = next((p for p in directory.parents if (p / MARKER).is_file()), None)
    generated = {"models", "repo", "scratch", *(f"scratch/{spec.directory}" for spec in _RUNS)}
    relative = directory.relative_to(root).as_posix() if root else ""
    if root is None or relative in generated or relative.startswith(("models/", "repo/")):
        raise ValueError(f"{directory} is not an experiment directory inside demo data")
    if not directory.exists():
        return False
    shutil.rmtree(directory)
    return True
