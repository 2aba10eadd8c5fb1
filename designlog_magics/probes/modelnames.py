"""Which model a run used, from the names a config gives it.

Why: runs are compared by model (a speed taken from a run of another model says nothing about
this one), but a config names its model in two ways: torchtune's builder component
(``torchtune.models.llama3_2.lora_llama3_2_1b``) and the checkpoint directory
(``/models/Llama-3.2-1B-Instruct/``, or a Hugging Face cache's ``models--org--Name``). These
functions turn either into the published name, or into family and size, and say when two
runs used the same model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol


class NamesModel(Protocol):
    """What names a run's model: a resolved config (:class:`.runconfig.RunConfig`)."""

    @property
    def checkpoint_name(self) -> str | None: ...

    @property
    def model_component(self) -> str | None: ...


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


def same_model(a: str | NamesModel | None, b: str | NamesModel | None) -> bool:
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


def _model_text(side: str | NamesModel | None) -> str | None:
    if isinstance(side, str):
        return side
    if side is None:
        return None
    return getattr(side, "checkpoint_name", None) or getattr(side, "model_component", None)
