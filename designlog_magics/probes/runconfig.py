"""The resolved config a torchtune run printed at its start, read from its output's head.

Why: what a run was (model, method, batch size, sequence length, epochs, processes) is
stated by the run itself, so a design step cites it from there, not from memory.

``torchtune.config.log_config`` logs ``f"Running {recipe_name} with resolved
config:\\n\\n{cfg_str}"`` where ``cfg_str`` is ``OmegaConf.to_yaml(cfg, resolve=True,
sort_keys=True)``; the logger is ``torchtune.utils._logging``, so the line reads
``INFO:torchtune.utils._logging:Running LoRAFinetuneRecipeSingleDevice with resolved config:``
when the root logger has the default format, or without the prefix when torchtune's own
handler prints the bare message. The YAML ends with the log record's newline (a blank line)
and the next log line or tqdm print. It is parsed with PyYAML, never with regexes. The
number of processes of a distributed run comes from its config or from a printed
``tune run``/``torchrun`` line before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .clipping import one_line
from .modelnames import checkpoint_name, model_key, model_name_from_component

MAX_YAML_CHARS = 512 << 10  # a resolved config is a few KiB; cap what PyYAML is given

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
            error = f"the resolved config is not valid YAML: {one_line(str(exc))}"
            continue
        if isinstance(data, dict):
            return data, None
        error = "the resolved config is not a mapping"
    return None, error


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
class ConfigRead:
    """What :func:`read_config` found: the config, or why there is none."""

    config: RunConfig | None
    error: str | None
    closed: bool  # False: the text ended inside the YAML block (read more)


def read_config(text: str, whole: bool) -> ConfigRead:
    """The config printed in ``text`` (a run's output from its start); ``whole``: ``text``
    is the entire output, so a YAML block running to its end is closed."""
    header = _HEADER.search(text)
    if header is None:
        return ConfigRead(None, "no resolved config printed at the start", True)
    candidates, closed = _yaml_block(text, header.end() + 1, whole)
    if not closed and not whole:
        return ConfigRead(None, "the resolved config is cut off", False)
    raw, error = _load(candidates)
    if raw is None:
        return ConfigRead(None, error, True)
    # A launch line comes before training: not inside the tqdm prints (long \r-joined lines).
    bars = text.find("\r", header.end())
    nproc = _launch_nproc(text[: header.start()]) or _launch_nproc(
        text[: bars if bars != -1 else None]
    )
    return ConfigRead(config_from_mapping(header.group(1), raw, nproc), None, True)


def parse_config(text: str) -> RunConfig | None:
    """The resolved config printed in ``text`` (a run's output, from its start); else None."""
    return read_config(text, whole=True).config
