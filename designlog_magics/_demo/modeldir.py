"""A Hugging Face model directory in miniature: the real layout, a tiny ``model.safetensors``.

Why: the design verifies a model directory (its config, its tokenizer files, its weights'
header) in seconds; the demo's stands in for ``Llama-3.2-1B-Instruct`` with the real model's
``config.json`` and tokenizer layout and the real tensor names in tiny shapes. It is not a
usable model.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MODEL_NAME = "Llama-3.2-1B-Instruct"


def json_text(data: Any) -> str:
    """``data`` as the model's JSON files are written: indented, then a newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def model_config() -> dict[str, Any]:
    """``config.json`` of Llama-3.2-1B-Instruct."""
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


def generation_config() -> dict[str, Any]:
    """``generation_config.json`` of Llama-3.2-1B-Instruct."""
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


def write_model(models: Path, words: Sequence[str]) -> Path:
    """The model directory under ``models``, its tokenizer's vocabulary from ``words``."""
    model = models / MODEL_NAME
    (model / "original").mkdir(parents=True, exist_ok=True)
    (model / "config.json").write_text(json_text(model_config()))
    (model / "generation_config.json").write_text(json_text(generation_config()))
    (model / "special_tokens_map.json").write_text(json_text(_special_tokens_map()))
    (model / "tokenizer_config.json").write_text(json_text(_tokenizer_config()))
    (model / "tokenizer.json").write_text(json_text(_tokenizer(words)))
    (model / "model.safetensors").write_bytes(safetensors_bytes(seed=3))
    (model / "README.md").write_text(_MODEL_README)
    (model / "original" / "params.json").write_text(
        json_text(
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
