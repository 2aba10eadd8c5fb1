"""What a prior torchtune run was and how it ended, from its SLURM output (``slurm-<id>.out``).

Why: a design step that cites a prior run ("the r8 run timed out in epoch 2") should state
facts read from the run's own output, not from memory.

What the output holds, and where:

* At the head, the resolved config. ``torchtune.config.log_config`` logs
  ``f"Running {recipe_name} with resolved config:\\n\\n{cfg_str}"`` where ``cfg_str`` is
  ``OmegaConf.to_yaml(cfg, resolve=True, sort_keys=True)``; the logger is
  ``torchtune.utils._logging``, so the line reads
  ``INFO:torchtune.utils._logging:Running LoRAFinetuneRecipeSingleDevice with resolved config:``
  when the root logger has the default format, or without the prefix when torchtune's own
  handler prints the bare message. The YAML ends with the log record's newline (a blank line)
  and the next log line or tqdm print. It is parsed with PyYAML, never with regexes.
* At the tail, how it ended: SLURM's ``slurmstepd: error: *** JOB 123 ON node CANCELLED AT
  <time> DUE TO TIME LIMIT ***`` (src/slurmd/slurmstepd/req.c), a CUDA OOM
  (``torch.OutOfMemoryError: CUDA out of memory``) or SLURM's cgroup OOM (``Detected 1
  oom_kill event in StepId=...``), a Python traceback or torchrun's ``ChildFailedError``, or
  torchtune's end of training: ``Saving final epoch checkpoint.`` and ``Model checkpoint of
  size X GiB saved to <output_dir>/epoch_<N>/...`` (training/checkpointing/_checkpointer.py),
  ``Checkpoint saved in X seconds.`` (the recipes), the last epoch's bar at 100%.
* Progress: each optimizer step sets the bar description ``f"{curr_epoch + 1}|{global_step}|
  Loss: {loss}"`` (recipes/lora_finetune_single_device.py), so the last prints in the tail
  carry the epoch and the global step. The bar's total is the epoch's step count.

Only the first 256 KiB (more, up to 4 MiB, if the YAML block is cut there) and the last
64 KiB are read. Prints may be joined by ``\\r`` (tqdm into a file) or one per line.

Which end wins, when the tail shows several: a CUDA/cgroup OOM after the last training step
(a distributed run that OOMs on one rank may then hang until its time limit: the OOM is why
it ended), then SLURM's cancel line (time limit -> ``timeout``; preemption, requeue, a
signal or a plain ``CANCELLED AT ... ***`` -> ``cancelled``; node or task failure ->
``failed``), then a traceback after the last step and after any completion sign
(``failed``), then completion. With none of these, a file written within ``stale_after``
seconds of ``now`` is ``running``; an older one is ``unknown`` (it stopped without saying why).
"""

from __future__ import annotations

import bisect
import datetime as _dt
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from .regions import FileRegions

HEAD_BYTES = 256 << 10  # the config is printed first
HEAD_MAX = 4 << 20  # read this far only when the YAML block is not closed in HEAD_BYTES
TAIL_BYTES = 64 << 10  # how it ended, and the last progress prints
STALE_AFTER = 30 * 60.0  # seconds without a write after which a run is not "running"
MAX_YAML_CHARS = 512 << 10  # a resolved config is a few KiB; cap what PyYAML is given
DETAIL_CHARS = 300

STATES = ("completed", "timeout", "cancelled", "oom", "failed", "running", "unknown")

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# ---------------------------------------------------------------------------------------
# model names


@dataclass(frozen=True)
class _Family:
    prefix: str  # as in torchtune's builder names: "llama3_2"
    display: str  # as in the model's published name: "Llama-3.2"


# Longest prefixes first: "llama3_2" before "llama3", "qwen2_5" before "qwen2".
_FAMILIES = tuple(
    _Family(p, d)
    for p, d in (
        ("code_llama2", "CodeLlama"),
        ("llama3_3", "Llama-3.3"),
        ("llama3_2", "Llama-3.2"),
        ("llama3_1", "Llama-3.1"),
        ("llama3", "Llama-3"),
        ("llama2", "Llama-2"),
        ("llama4", "Llama-4"),
        ("qwen2_5", "Qwen2.5"),
        ("qwen3", "Qwen3"),
        ("qwen2", "Qwen2"),
        ("gemma3", "Gemma-3"),
        ("gemma2", "Gemma-2"),
        ("gemma", "Gemma"),
        ("mistral", "Mistral"),
        ("phi4", "Phi-4"),
        ("phi3", "Phi-3"),
    )
)
_ADAPTER_PREFIXES = ("qlora_", "lora_", "dora_")
_COMPONENT_SIZE = re.compile(r"(?:(\d+)x)?(\d+)(?:_(\d+))?b|(mini|small|medium|large)")
_COMPONENT_NAME = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*")
_HASH = re.compile(r"[0-9a-f]{40}")

# A published name: family, optional version, then a size ("1b", "0.5b", "8x7b", "mini").
_NAME_FAMILY = re.compile(
    r"(codellama|code[-_]llama|llama|qwen|gemma|mistral|mixtral|phi|smollm|olmo)"
    r"(?:[-_ ]?v?(\d+(?:\.\d+)?)(?!\d|\.\d|b(?![a-z])|x\d))?"
)
_NAME_SIZE = re.compile(r"(?:^|[-_ ])((?:\d+x)?\d+(?:\.\d+)?)b(?![a-z])|(mini|small|medium|large)")


def model_name_from_component(component: str | None) -> str | None:
    """``torchtune.models.qwen2_5.lora_qwen2_5_0_5b`` -> ``Qwen2.5-0.5B``; None if not known.

    The builder's family prefix and size give the name a published checkpoint would carry
    (``lora_llama3_2_1b`` -> ``Llama-3.2-1B``); ``_instruct`` adds ``-Instruct``.
    """
    if not isinstance(component, str) or not component:
        return None
    name = component.rsplit(".", 1)[-1].lower()
    for prefix in _ADAPTER_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    for family in _FAMILIES:
        if not name.startswith(family.prefix + "_"):
            continue
        rest = name[len(family.prefix) + 1 :]
        m = _COMPONENT_SIZE.match(rest)
        if m is None:
            return None
        experts, whole, frac, word = m.groups()
        if word:
            size = word
        else:
            size = (f"{experts}x" if experts else "") + whole + (f".{frac}" if frac else "") + "B"
        tail = rest[m.end() :]
        suffix = "-Instruct" if tail == "_instruct" else ""
        return f"{family.display}-{size}{suffix}"
    return None


def checkpoint_name(path: str | None) -> str | None:
    """The meaningful last part of a checkpoint directory, e.g. ``Llama-3.2-1B-Instruct``.

    Skips a trailing ``original`` (Meta-format weights inside a download) and a Hugging Face
    cache's ``snapshots/<hash>`` (``models--org--Name`` -> ``Name``).
    """
    if not isinstance(path, str):
        return None
    parts = [p for p in path.replace("\\", "/").split("/") if p and p != "."]
    while parts and parts[-1] == "original":
        parts.pop()
    if len(parts) >= 2 and _HASH.fullmatch(parts[-1]) and parts[-2] == "snapshots":
        parts = parts[:-2]
    if not parts:
        return None
    last = parts[-1]
    if last.startswith("models--"):
        last = last.split("--")[-1] or last
    return last


def _is_component(name: str) -> bool:
    return "_" in name and _COMPONENT_NAME.fullmatch(name) is not None


def model_key(name: str | None) -> str | None:
    """Family and size of a model name, component or checkpoint path: ``llama3.2-1b``.

    ``Llama-3.2-1B-Instruct``, ``/models/Llama-3.2-1B-Instruct/`` and
    ``torchtune.models.llama3_2.lora_llama3_2_1b`` all give ``llama3.2-1b``; variants
    (Instruct, base) do not count. None when no known family and size is found.
    """
    if not isinstance(name, str) or not name.strip():
        return None
    text = name.strip()
    if _is_component(text):
        derived = model_name_from_component(text)
        if derived is None:
            return None
        text = derived
    elif "/" in text or "\\" in text:
        text = checkpoint_name(text) or ""
    text = text.lower()
    if text.startswith("meta-"):
        text = text[len("meta-") :]
    fam = _NAME_FAMILY.search(text)
    if fam is None:
        return None
    family = fam.group(1).replace("-", "").replace("_", "")
    version = fam.group(2) or ""
    size = _NAME_SIZE.search(text, fam.end())
    if size is None:
        return None
    size_text = f"{size.group(1)}b" if size.group(1) else size.group(2)
    return f"{family}{version}-{size_text}"


def _dir_name(name: str) -> str | None:
    """The checkpoint directory name in ``name``, or None when it is a builder component."""
    text = name.strip()
    if not text or _is_component(text):
        return None
    return checkpoint_name(text)


def _name_norm(name: str) -> str:
    low = name.lower()
    return low[len("meta-") :] if low.startswith("meta-") else low


def same_model(a: str | RunConfig | None, b: str | RunConfig | None) -> bool:
    """Whether two runs (or names) used the same model.

    Rule: when both sides name a checkpoint directory, the directory names decide (case
    aside, and a leading ``Meta-``, so ``Llama-3.2-1B-Instruct`` is not ``Llama-3.2-1B``);
    otherwise family and size decide (:func:`model_key`), so a config that only names the
    builder ``lora_llama3_2_1b`` matches ``Llama-3.2-1B-Instruct``.
    """
    sa, sb = _model_text(a), _model_text(b)
    if sa is None or sb is None:
        return False
    da, db = _dir_name(sa), _dir_name(sb)
    if da is not None and db is not None:
        return _name_norm(da) == _name_norm(db)
    ka, kb = model_key(sa), model_key(sb)
    return ka is not None and ka == kb


def _model_text(side: str | RunConfig | None) -> str | None:
    if isinstance(side, RunConfig):
        return side.checkpoint_name or side.model_component
    return side if isinstance(side, str) else None


# ---------------------------------------------------------------------------------------
# the resolved config


@dataclass(frozen=True)
class RunConfig:
    """The resolved config a torchtune recipe printed at its start."""

    recipe: str
    distributed: bool
    nproc: int | None
    model_component: str | None
    checkpoint_dir: str | None  # as configured
    checkpoint_name: str | None  # its meaningful last part (see checkpoint_name())
    model_name: str | None  # checkpoint_name, else derived from the component
    batch_size: int | None
    gradient_accumulation_steps: int | None
    epochs: int | None
    max_steps_per_epoch: int | None
    max_seq_len: int | None
    packed: bool | None
    dataset: str | None  # the dataset builder (several joined by ", ")
    dataset_source: str | None
    dataset_files: tuple[str, ...]
    lora_rank: int | None
    lora_alpha: int | float | None
    dtype: str | None
    compile: bool | None
    output_dir: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def model_key(self) -> str | None:
        """Family and size (``llama3.2-1b``), from the checkpoint name or the component."""
        return model_key(self.model_name) or model_key(self.model_component)

    @property
    def method(self) -> str:
        """``LoRA r8`` / ``QLoRA r16`` / ``DoRA r8`` / ``full`` / the recipe's name."""
        component = (self.model_component or "").lower()
        node = self.raw.get("model")
        model: dict[str, Any] = node if isinstance(node, dict) else {}
        if self.lora_rank is not None or "lora" in component or "LoRA" in self.recipe:
            kind = "LoRA"
            if "qlora" in component:
                kind = "QLoRA"
            elif model.get("use_dora") is True or "dora_" in component:
                kind = "DoRA"
            return f"{kind} r{self.lora_rank}" if self.lora_rank is not None else kind
        if self.recipe.startswith("Full"):
            return "full"
        return self.recipe

    def describe(self) -> str:
        """One line: model, method, the settings that change speed and memory."""
        parts = [self.model_name or self.model_component or self.recipe, self.method]
        for name in ("batch_size", "gradient_accumulation_steps", "max_seq_len"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        if self.packed:
            parts.append("packed")
        if self.epochs is not None:
            parts.append(f"epochs={self.epochs}")
        if self.max_steps_per_epoch is not None:
            parts.append(f"max_steps_per_epoch={self.max_steps_per_epoch}")
        if self.distributed:
            parts.append(f"{self.nproc} processes" if self.nproc else "distributed")
        if self.compile:
            parts.append("compile")
        return ", ".join(parts)


_HEADER = re.compile(r"Running ([A-Za-z_][A-Za-z0-9_]*) with resolved config:[ \t]*\r?$", re.M)
_TOP_KEY = re.compile(r"(?:[A-Za-z_][\w.\-]*|'[^'\n]*'|\"[^\"\n]*\"):(?: |$)")
_LAUNCH_LINE = re.compile(r"^.*(?:\btune\s+run\b|\btorchrun\b|torch\.distributed\.run).*$", re.M)
_LAUNCH_WORD = re.compile(r"\btune\s+run\b|\btorchrun\b|torch\.distributed\.run")
_NPROC = re.compile(r"--nproc[_-]per[_-]node(?:=|\s+)(\d+)\b")
_NNODES = re.compile(r"--nnodes(?:=|\s+)(\d+)(?![\d:])")


def _yamlish(line: str) -> bool:
    """Could this line belong to OmegaConf's block-style dump (sorted keys, ``- `` items)?"""
    if "\r" in line or "\x1b" in line:
        return False
    return (
        line.startswith(" ") or line.startswith("- ") or line == "-" or bool(_TOP_KEY.match(line))
    )


def _yaml_block(text: str, start: int, whole: bool) -> tuple[list[str], bool]:
    """Candidate YAML texts after the header (shortest first) and whether the block closed.

    The block runs over YAML-like lines; OmegaConf's dump has no blank lines except inside
    a multi-line quoted scalar, so each blank line is a candidate end, tried in order.
    """
    lines = text[start:].split("\n")
    block: list[str] = []
    closed = False
    size = 0
    for i, raw in enumerate(lines):
        if i == len(lines) - 1 and not whole:
            break  # possibly cut by the read; the block is closed only by a later line
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            block.append("")
            continue
        if not _yamlish(line):
            closed = True
            break
        block.append(line)
        size += len(line) + 1
        if size > MAX_YAML_CHARS:
            closed = True
            break
    while block and block[0] == "":
        block.pop(0)
    candidates = []
    for i, line in enumerate(block):
        if line == "" and i > 0 and block[i - 1] != "":
            candidates.append("\n".join(block[:i]) + "\n")
            if len(candidates) >= 16:
                break
    while block and block[-1] == "":
        block.pop()
    if block:
        candidates.append("\n".join(block) + "\n")
    return candidates, closed


def _load(candidates: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    error = "the resolved config is empty"
    for candidate in candidates:
        try:
            data = yaml.load(candidate, Loader=_SafeLoader)  # noqa: S506 - a safe loader
        except Exception as exc:  # YAMLError, RecursionError on absurd nesting, ...
            error = f"the resolved config is not valid YAML: {_one_line(str(exc))}"
            continue
        if isinstance(data, dict):
            return data, None
        error = "the resolved config is not a mapping"
    return None, error


def _one_line(text: str, limit: int = DETAIL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _get(mapping: Any, dotted: str) -> Any:
    node = mapping
    for key in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, dict):  # e.g. compile: {model: true, loss: true}
        flags = [v for v in value.values() if isinstance(v, bool)]
        return any(flags) if flags else None
    return None


def _launch_nproc(text: str) -> int | None:
    """Processes from a printed ``tune run``/``torchrun`` line (``set -x``, ``echo``)."""
    if _LAUNCH_WORD.search(text) is None:  # the line search is slow on long lines
        return None
    for line in _LAUNCH_LINE.findall(text):
        per_node = _NPROC.search(line)
        if per_node is None:
            continue
        count = int(per_node.group(1))
        nodes = _NNODES.search(line)
        return count * int(nodes.group(1)) if nodes else count
    return None


def _datasets(raw: dict[str, Any]) -> tuple[str | None, str | None, tuple[str, ...], bool | None]:
    node = raw.get("dataset")
    nodes = node if isinstance(node, list) else [node]
    items: list[dict[str, Any]] = [d for d in nodes if isinstance(d, dict)]
    components = [c for d in items if (c := _str(d.get("_component_")))]
    sources = [s for d in items if (s := _str(d.get("source")))]
    files: list[str] = []
    for d in items:
        data_files = d.get("data_files")
        if isinstance(data_files, str):
            files.append(data_files)
        elif isinstance(data_files, list):
            files.extend(f for f in data_files if isinstance(f, str))
    flags = [p for d in items if (p := _bool(d.get("packed"))) is not None]
    packed = any(flags) if flags else None
    return (", ".join(components) or None, sources[0] if sources else None, tuple(files), packed)


def config_from_mapping(recipe: str, raw: dict[str, Any], nproc: int | None = None) -> RunConfig:
    """A :class:`RunConfig` from the parsed YAML mapping (values of the wrong type are None)."""
    distributed = "Distributed" in recipe
    if distributed:
        nproc = _int(raw.get("nproc_per_node")) or nproc
    else:
        nproc = 1
    component = _str(_get(raw, "model._component_"))
    ckpt_dir = _str(_get(raw, "checkpointer.checkpoint_dir"))
    ckpt_name = checkpoint_name(ckpt_dir)
    dataset, source, files, packed = _datasets(raw)
    return RunConfig(
        recipe=recipe,
        distributed=distributed,
        nproc=nproc,
        model_component=component,
        checkpoint_dir=ckpt_dir,
        checkpoint_name=ckpt_name,
        model_name=ckpt_name or model_name_from_component(component),
        batch_size=_int(raw.get("batch_size")),
        gradient_accumulation_steps=_int(raw.get("gradient_accumulation_steps")),
        epochs=_int(raw.get("epochs")),
        max_steps_per_epoch=_int(raw.get("max_steps_per_epoch")),
        max_seq_len=_int(_get(raw, "tokenizer.max_seq_len")),
        packed=packed,
        dataset=dataset,
        dataset_source=source,
        dataset_files=files,
        lora_rank=_int(_get(raw, "model.lora_rank")),
        lora_alpha=_number(_get(raw, "model.lora_alpha")),
        dtype=_str(raw.get("dtype")),
        compile=_bool(raw.get("compile")),
        output_dir=_str(raw.get("output_dir")) or _str(_get(raw, "checkpointer.output_dir")),
        raw=raw,
    )


@dataclass(frozen=True)
class _ConfigRead:
    config: RunConfig | None
    error: str | None
    closed: bool  # False: the text ended inside the YAML block (read more)


def _read_config(text: str, whole: bool) -> _ConfigRead:
    header = _HEADER.search(text)
    if header is None:
        return _ConfigRead(None, "no resolved config printed at the start", True)
    candidates, closed = _yaml_block(text, header.end() + 1, whole)
    if not closed and not whole:
        return _ConfigRead(None, "the resolved config is cut off", False)
    raw, error = _load(candidates)
    if raw is None:
        return _ConfigRead(None, error, True)
    # A launch line comes before training: not inside the tqdm prints (long \r-joined lines).
    bars = text.find("\r", header.end())
    nproc = _launch_nproc(text[: header.start()]) or _launch_nproc(
        text[: bars if bars != -1 else None]
    )
    return _ConfigRead(config_from_mapping(header.group(1), raw, nproc), None, True)


def parse_config(text: str) -> RunConfig | None:
    """The resolved config printed in ``text`` (a run's output, from its start); else None."""
    return _read_config(text, whole=True).config


# ---------------------------------------------------------------------------------------
# how it ended


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, and how far it got."""

    state: str  # one of STATES
    detail: str | None  # the line that showed it
    epochs_done: int | None
    steps_done: int | None  # the last global step seen
    epochs_planned: int | None
    steps_per_epoch: int | None = None  # the last bar's total

    def describe(self) -> str:
        """``timeout: 1 of 3 epochs done, step 8``."""
        if self.epochs_done is None:
            done = "epochs done unknown"
        elif self.epochs_planned is not None:
            done = f"{self.epochs_done} of {self.epochs_planned} epochs done"
        else:
            done = f"{self.epochs_done} epochs done"
        step = f", step {self.steps_done}" if self.steps_done is not None else ""
        return f"{self.state}: {done}{step}"


# SLURM, src/slurmd/slurmstepd/req.c: error("*** %s ON %s CANCELLED AT %s DUE TO TIME LIMIT ***")
# and its siblings (PREEMPTION, NODE FAILURE..., JOB REQUEUE, "DUE to SIGNAL %s", TASK FAILURE);
# older releases printed a plain "*** JOB %u ON %s CANCELLED AT %s ***" for scancel.
_SLURM_CANCEL = re.compile(
    r"(?:slurmstepd: error: )?\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT \S+"
    r"(?: DUE (?:TO|to) ([^*\r\n]*?))? \*\*\*"
)
_SLURM_FAILED = re.compile(r"\*\*\* (?:JOB|STEP) \S+ ON \S+ FAILED \(non-zero exit code")
_OOM = re.compile(
    r"(?:OutOfMemoryError: |CUDA out of memory|Detected \d+ oom[-_]kill event|"
    r"oom-kill|Exceeded (?:job|step) memory limit|task \d+: Out Of Memory)"
)
_TRACEBACK = re.compile(r"Traceback \(most recent call last\):")
_CHILD_FAILED = re.compile(r"ChildFailedError")
_RANK_PREFIX = re.compile(r"^\[(?:rank|default)\d+\]:\s?")
# The line that closes a traceback: an exception's (dotted) name, then ": message" or nothing.
_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(?::\s|:$|$)")
MAX_TRACEBACKS = 20  # the last ones are enough to name the error
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# tqdm's status line, "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [...", with
# torchtune's description "{epoch}|{global_step}|Loss: {loss}".
# Bounded repeats: a hostile file cannot make a search quadratic in a long line.
_TT_BAR = re.compile(
    r"(\d{1,9})\|(\d{1,12})\|Loss: [^\r\n]{0,200}?: *\d{1,3}%\|[^|\r\n]{0,400}\|"
    r" *(\d{1,12})/(\d{1,12}) \["
)
_ANY_BAR = re.compile(r"\d{1,3}%\|[^|\r\n]{0,400}\| *(\d{1,12}/(?:\d{1,12}|\?)) \[")
# torchtune: log.info("Starting checkpoint save...") / "Checkpoint saved in {:.2f} seconds."
_SAVE_START = re.compile(r"Starting checkpoint save\.\.\.")
_SAVED_IN = re.compile(r"Checkpoint saved in [\d.]+ seconds\.")
# torchtune checkpointers: "Model checkpoint of size {:.2f} GiB saved to {output_path}",
# the same for "Adapter", and (HF at HEAD) f"Model checkpoint saved to {ckpt_output_dir}".
_WEIGHTS_SAVED = re.compile(r"(?:Model|Adapter) checkpoint (?:of size [\d.]+ GiB )?saved to (\S+)")
_EPOCH_DIR = re.compile(r"(?:^|[/\\])epoch_(\d+)(?:[/\\]|$)")
_FINAL_SAVE = re.compile(r"Saving final epoch checkpoint\.")


def _line_at(text: str, pos: int) -> str:
    """The print (between ``\\r``/``\\n``) around ``pos``, cleaned for showing."""
    start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    glued = None  # a tqdm print that the line was written after, without a newline
    for glued in _ANY_BAR.finditer(text, start, pos):  # noqa: B007 - the last one is wanted
        pass
    if glued is not None:
        close = text.find("]", glued.end(), pos)
        start = close + 1 if close != -1 else start
    ends = [e for e in (text.find("\n", pos), text.find("\r", pos)) if e != -1]
    end = min(ends) if ends else len(text)
    return _one_line(_RANK_PREFIX.sub("", _ANSI.sub("", text[start:end])))


def _exception_line(text: str, header_pos: int) -> str | None:
    """The exception line closing the traceback that starts at ``header_pos``."""
    offset = text.find("\n", header_pos)
    if offset == -1:
        return None
    for line in text[offset + 1 : offset + 1 + (64 << 10)].split("\n")[:400]:
        clean = _RANK_PREFIX.sub("", line.rstrip("\r"))
        if clean and not clean[0].isspace() and _EXCEPTION.match(clean):
            return _one_line(clean)
    return None


def _failure_detail(text: str, headers: list[int]) -> str | None:
    """The most telling exception line: a child's error rather than torchrun's wrapper."""
    lines = [found for h in headers[-MAX_TRACEBACKS:] if (found := _exception_line(text, h))]
    plain = [line for line in lines if not _CHILD_FAILED.search(line)]
    if plain:
        return plain[-1]
    return lines[-1] if lines else None


@dataclass
class _Progress:
    steps_done: int | None = None
    epochs_done: int | None = None
    steps_per_epoch: int | None = None
    end: int = 0  # where training last moved on: the first print of the last step
    last_bar: int | None = None  # the last tqdm print


def _progress(text: str) -> _Progress:
    got = _Progress()
    max_epoch = None
    complete: set[int] = set()
    for m in _TT_BAR.finditer(text):
        epoch, step, n, total = (int(g) for g in m.groups())
        if got.steps_done is None or step > got.steps_done:
            got.steps_done, got.end = step, m.start()
        if max_epoch is None or epoch >= max_epoch:
            max_epoch = epoch
            got.steps_per_epoch = total
        if total and n >= total:
            complete.add(epoch)
    # Without torchtune descriptions: training last moved on where the bar first showed its
    # final count (a bar re-printed as the process exits does not move it on).
    state = None
    for m in _ANY_BAR.finditer(text):
        got.last_bar = m.start()
        if m.group(1) != state:
            state = m.group(1)
            if got.steps_done is None:
                got.end = m.start()
    if got.steps_per_epoch is None and state is not None and state.split("/")[1].isdigit():
        got.steps_per_epoch = int(state.split("/")[1])
    if max_epoch is not None:
        got.epochs_done = max_epoch if max_epoch in complete else max_epoch - 1
    return got


def _epoch_end_saves(text: str) -> list[tuple[int, int]]:
    """(epoch number, position) of weights saved between ``Starting checkpoint save...``
    and the next bar: saves at an epoch's end, not intermediate step saves."""
    found = []
    starts = [m.end() for m in _SAVE_START.finditer(text)]
    bars = [m.start() for m in _ANY_BAR.finditer(text)]
    for m in _WEIGHTS_SAVED.finditer(text):
        epoch = _EPOCH_DIR.search(m.group(1))
        i = bisect.bisect_right(starts, m.start())
        if epoch is None or i == 0:
            continue
        begun = starts[i - 1]
        if bisect.bisect_left(bars, begun) < bisect.bisect_left(bars, m.start()):
            continue  # a bar moved on after "Starting checkpoint save..."
        found.append((int(epoch.group(1)), m.start()))
    return found


def _to_timestamp(now: float | _dt.datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, _dt.datetime):
        return now.timestamp()
    return float(now)


def classify_outcome(
    tail: str,
    *,
    epochs_planned: int | None = None,
    whole: bool = True,
    mtime: float | None = None,
    now: float | _dt.datetime | None = None,
    stale_after: float = STALE_AFTER,
) -> RunOutcome:
    """How the run whose output ends with ``tail`` ended (see the module's rules).

    ``whole``: ``tail`` is the entire output, so "no step seen" means none was made.
    """
    prog = _progress(tail)
    epochs_done = prog.epochs_done
    saves = _epoch_end_saves(tail)
    if saves:
        by_saves = max(e for e, _ in saves) + 1
        epochs_done = by_saves if epochs_done is None else max(epochs_done, by_saves)
    steps_done = prog.steps_done
    if whole:
        steps_done = 0 if steps_done is None else steps_done
        epochs_done = 0 if epochs_done is None else epochs_done

    # Completion signs, and where the last one is.
    done_at: int | None = None
    done_line: str | None = None
    for m in _FINAL_SAVE.finditer(tail):
        done_at, done_line = m.start(), _line_at(tail, m.start())
    if epochs_planned is not None:
        for epoch, pos in saves:
            if epoch + 1 >= epochs_planned and (done_at is None or pos > done_at):
                done_at, done_line = pos, _line_at(tail, pos)
    last_epoch_finished = (
        epochs_planned is not None and epochs_done is not None and epochs_done >= epochs_planned
    )

    def outcome(state: str, detail: str | None) -> RunOutcome:
        done = epochs_done
        if state == "completed" and epochs_planned is not None and done is None:
            done = epochs_planned
        return RunOutcome(state, detail, done, steps_done, epochs_planned, prog.steps_per_epoch)

    after = max(prog.end, done_at if done_at is not None else -1)
    ooms = [m for m in _OOM.finditer(tail) if m.start() >= after]
    if ooms:
        return outcome("oom", _line_at(tail, ooms[0].start()))

    tracebacks = [m.start() for m in _TRACEBACK.finditer(tail) if m.start() >= after]
    cancels = list(_SLURM_CANCEL.finditer(tail))
    if cancels:
        m = cancels[-1]
        reason = (m.group(1) or "").strip().upper()
        line = _one_line(m.group(0))
        if reason == "TIME LIMIT":
            return outcome("timeout", line)
        if reason.startswith(("NODE FAILURE", "TASK FAILURE")):
            return outcome("failed", _failure_detail(tail, tracebacks) or line)
        return outcome("cancelled", line)
    slurm_failed = list(_SLURM_FAILED.finditer(tail))
    child = [m for m in _CHILD_FAILED.finditer(tail) if m.start() >= after]
    if tracebacks or child or (slurm_failed and slurm_failed[-1].start() >= after):
        detail = _failure_detail(tail, tracebacks)
        if detail is None:  # a traceback cut off before its exception line, or only SLURM's
            shown = [*(m.start() for m in child), *(m.start() for m in slurm_failed), *tracebacks]
            detail = _line_at(tail, max(shown))
        return outcome("failed", detail)

    if done_at is not None:
        return outcome("completed", done_line)
    recent = mtime is not None and _to_timestamp(now) - mtime <= stale_after
    if last_epoch_finished and not recent:
        return outcome("completed", _line_at(tail, prog.end))
    if recent:
        detail = _line_at(tail, prog.last_bar) if prog.last_bar is not None else None
        return outcome("running", detail)
    return outcome("unknown", "no end of run in the output")


# ---------------------------------------------------------------------------------------
# the entry point


@dataclass(frozen=True)
class RunFacts:
    """What a run was (config) and how it ended (outcome), from its SLURM output file."""

    path: str
    job_id: str | None
    size: int | None
    mtime: float | None
    config: RunConfig | None
    outcome: RunOutcome
    error: str | None = None  # the file could not be read
    config_error: str | None = None  # no config, or a config that could not be parsed


_JOB_FILE = re.compile(r"slurm-(\d+(?:_\d+)?)\.out")
_JOB_FILE_LOOSE = re.compile(r".*[-_.](\d+)\.(?:out|err|log)")


def job_id_from_name(path: str) -> str | None:
    """``slurm-123.out`` -> ``123``; an array task ``slurm-123_4.out`` -> ``123_4``."""
    name = os.path.basename(str(path))
    m = _JOB_FILE.fullmatch(name) or _JOB_FILE_LOOSE.fullmatch(name)
    return m.group(1) if m else None


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _read_range(fd: int, offset: int, length: int) -> bytes:
    chunks = []
    while length > 0:
        chunk = os.pread(fd, min(length, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def read_run_facts(
    path: str | os.PathLike[str],
    *,
    now: float | _dt.datetime | None = None,
    stale_after: float = STALE_AFTER,
    regions: FileRegions | None = None,
) -> RunFacts:
    """Config and outcome of the run that wrote ``path``; never raises for I/O or content.

    ``regions``: the output already opened (its head and tail shared with other probes).
    """
    spath = os.fspath(path)
    job_id = job_id_from_name(spath)
    if regions is not None:
        return _read_facts(
            spath, job_id, regions.size, regions.mtime, regions.pread, now, stale_after
        )
    try:  # O_NONBLOCK: a FIFO given by mistake must not hang the probe
        fd = os.open(spath, os.O_RDONLY | os.O_NONBLOCK)
    except (OSError, ValueError) as exc:
        return _unreadable(spath, job_id, exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return _unreadable(spath, job_id, OSError(0, "not a regular file"))

        def read(offset: int, length: int) -> bytes:
            return _read_range(fd, offset, length)

        return _read_facts(spath, job_id, st.st_size, st.st_mtime, read, now, stale_after)
    except OSError as exc:
        return _unreadable(spath, job_id, exc)
    finally:
        os.close(fd)


def _read_facts(
    spath: str,
    job_id: str | None,
    size: int,
    mtime: float,
    read: Callable[[int, int], bytes],
    now: float | _dt.datetime | None,
    stale_after: float,
) -> RunFacts:
    """The facts from the head and tail of a file of ``size`` bytes, read by ``read``."""
    try:
        head_bytes = read(0, min(size, HEAD_BYTES))
        head = _decode(head_bytes)
        whole_head = len(head_bytes) >= size
        config_read = _read_config(head, whole_head)
        if not config_read.closed:
            more = read(0, min(size, HEAD_MAX))
            config_read = _read_config(_decode(more), whole=True)
        if size <= len(head_bytes):
            tail, whole = head, True
        else:
            start = max(0, size - TAIL_BYTES)
            tail = _decode(read(start, size - start))
            whole = start == 0
            if not whole:
                cut = min((i for i in (tail.find("\n"), tail.find("\r")) if i != -1), default=-1)
                tail = tail[cut + 1 :] if cut != -1 else ""
    except OSError as exc:
        return _unreadable(spath, job_id, exc)
    config = config_read.config
    outcome = classify_outcome(
        tail,
        epochs_planned=config.epochs if config else None,
        whole=whole,
        mtime=mtime,
        now=now,
        stale_after=stale_after,
    )
    return RunFacts(spath, job_id, size, mtime, config, outcome, None, config_read.error)


def _unreadable(path: str, job_id: str | None, exc: Exception) -> RunFacts:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    error = f"cannot read {path}: {reason}"
    outcome = RunOutcome("unknown", error, None, None, None)
    return RunFacts(path, job_id, None, None, None, outcome, error, None)
