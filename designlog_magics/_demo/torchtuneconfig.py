"""What torchtune prints of a run besides its bars: the resolved config at its start, the
recipe's setup lines, and the messages of a checkpoint save.

Why: the made-up outputs must start and end as torchtune's do, so the probes that read a run's
config and how it ended are tried on torchtune's own format strings
(``torchtune/config/_utils.py`` ``log_config``: ``f"Running {recipe_name} with resolved
config:\\n\\n{cfg_str}"``, ``cfg_str = OmegaConf.to_yaml(cfg, resolve=True,
sort_keys=True)``, which is ``yaml.dump(..., default_flow_style=False, sort_keys=True)``; the
checkpointer's ``Model checkpoint of size ... saved to <output_dir>/epoch_<N>/...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

_HEADER = """\
INFO:torchtune.utils._logging:Running FullFinetuneRecipeSingleDevice with resolved config:

batch_size: 4
checkpointer:
  _component_: torchtune.training.FullModelHFCheckpointer
  checkpoint_dir: /scratch/{user}/models/Llama-3.2-1B-Instruct/
  checkpoint_files:
  - model.safetensors
  model_type: LLAMA3_2
  output_dir: /scratch/{user}/runs/ck-out-{job}
dataset:
  _component_: torchtune.datasets.alpaca_cleaned_dataset
  packed: false
device: cuda
dtype: bf16
epochs: {epochs}
gradient_accumulation_steps: 1
log_every_n_steps: 1
max_steps_per_epoch: null
optimizer:
  _component_: torch.optim.AdamW
  lr: 2.0e-05
output_dir: /scratch/{user}/runs/ck-out-{job}
seed: {seed}

INFO:torchtune.utils._logging:Hint: enable_activation_checkpointing is True, but \
enable_activation_offloading isn't. Enabling activation offloading should reduce memory further.
DEBUG:torchtune.utils._logging:Setting manual seed to local seed {seed}. \
Local seed is seed + rank = {seed} + 0
Writing logs to /scratch/{user}/runs/ck-out-{job}/logs/log_{job}.txt
INFO:torchtune.utils._logging:Model is initialized with precision torch.bfloat16.
INFO:torchtune.utils._logging:Memory stats after model init:
\tGPU peak memory allocation: 2.35 GiB
\tGPU peak memory reserved: 2.36 GiB
\tGPU peak memory active: 2.35 GiB
INFO:torchtune.utils._logging:Tokenizer is initialized from file.
INFO:torchtune.utils._logging:Optimizer is initialized.
INFO:torchtune.utils._logging:Loss is initialized.
INFO:torchtune.utils._logging:Dataset and Sampler are initialized.
INFO:torchtune.utils._logging:No learning rate scheduler configured. Using constant learning rate.
WARNING:torchtune.utils._logging: Profiling disabled.
INFO:torchtune.utils._logging: Profiler config after instantiation: {{'enabled': False}}
"""


def default_header(*, user: str, job: int, epochs: int, seed: int) -> str:
    """A full fine-tune's start, written when no :class:`TorchtuneConfig` is given."""
    return _HEADER.format(user=user, job=job, epochs=epochs, seed=seed)


_TOKENIZERS = {
    "llama3": "torchtune.models.llama3.llama3_tokenizer",
    "qwen2_5": "torchtune.models.qwen2_5.qwen2_5_tokenizer",
}


@dataclass(frozen=True)
class TorchtuneConfig:
    """What a run was configured with, as far as its resolved config shows it."""

    model: str = "Llama-3.2-1B-Instruct"  # the checkpoint directory's name
    component: str = "torchtune.models.llama3_2.lora_llama3_2_1b"
    recipe: str = "LoRAFinetuneRecipeSingleDevice"
    model_type: str = "LLAMA3_2"
    tokenizer: str = "llama3"
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_seq_len: int = 512
    lora_rank: int | None = 8  # None: a full fine-tune
    lora_alpha: int | None = 16
    packed: bool = False
    dataset: str = "torchtune.datasets.instruct_dataset"
    metric_logger: str = "StdoutLogger"  # or "DiskLogger" (prints ``Writing logs to``)
    log_every_n_steps: int = 1
    tokens_per_step: float = 900.0  # mean tokens of an optimizer step, for tokens/s
    lr: float = 0.0003
    extra: dict = field(default_factory=dict)  # more top-level keys

    def resolved(self, *, user: str, job: int, epochs: int, seed: int) -> dict:
        """The config as ``OmegaConf.to_container(cfg, resolve=True)`` would hold it."""
        output_dir = f"/scratch/{user}/runs/ck-out-{job}"
        model_dir = f"/scratch/{user}/models/{self.model}/"
        model: dict = {"_component_": self.component}
        if self.lora_rank is not None:
            model.update(
                apply_lora_to_mlp=True,
                lora_alpha=self.lora_alpha,
                lora_attn_modules=["q_proj", "v_proj", "output_proj"],
                lora_dropout=0.0,
                lora_rank=self.lora_rank,
            )
        logger: dict = {"_component_": f"torchtune.training.metric_logging.{self.metric_logger}"}
        if self.metric_logger == "DiskLogger":
            logger["log_dir"] = f"{output_dir}/logs"
        return {
            "batch_size": self.batch_size,
            "checkpointer": {
                "_component_": "torchtune.training.FullModelHFCheckpointer",
                "checkpoint_dir": model_dir,
                "checkpoint_files": ["model.safetensors"],
                "model_type": self.model_type,
                "output_dir": output_dir,
                "recipe_checkpoint": None,
            },
            "compile": False,
            "dataset": {
                "_component_": self.dataset,
                "packed": self.packed,
                "source": "json",
                "data_files": "data/green/capitalization/words_8L_80P_10000.json",
                "split": "train",
            },
            "device": "cuda",
            "dtype": "bf16",
            "enable_activation_checkpointing": True,
            "enable_activation_offloading": False,
            "epochs": epochs,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "log_every_n_steps": self.log_every_n_steps,
            "log_peak_memory_stats": False,
            "loss": {"_component_": "torchtune.modules.loss.CEWithChunkedOutputLoss"},
            "max_steps_per_epoch": None,
            "metric_logger": logger,
            "model": model,
            "optimizer": {"_component_": "torch.optim.AdamW", "fused": True, "lr": self.lr},
            "output_dir": output_dir,
            "seed": seed,
            "shuffle": True,
            "tokenizer": {
                "_component_": _TOKENIZERS[self.tokenizer],
                "max_seq_len": self.max_seq_len,
                "path": f"{model_dir}original/tokenizer.model",
            },
            **self.extra,
        }

    def header(self, *, user: str, job: int, epochs: int, seed: int) -> str:
        """torchtune's start of a run: the resolved config, then the recipe's setup lines."""
        import yaml

        cfg = self.resolved(user=user, job=job, epochs=epochs, seed=seed)
        text = yaml.dump(cfg, default_flow_style=False, allow_unicode=True, sort_keys=True)
        log = "INFO:torchtune.utils._logging:"
        lines = [
            f"{log}Running {self.recipe} with resolved config:",
            "",
            text,
            f"DEBUG:torchtune.utils._logging:Setting manual seed to local seed {seed}. "
            f"Local seed is seed + rank = {seed} + 0",
        ]
        if self.metric_logger == "DiskLogger":
            lines.append(f"Writing logs to {cfg['output_dir']}/logs/{disk_log_name(job)}")
        lines += [
            f"{log}Model is initialized with precision torch.bfloat16.",
            f"{log}Memory stats after model init:",
            "\tGPU peak memory allocation: 2.35 GiB",
            "\tGPU peak memory reserved: 2.36 GiB",
            "\tGPU peak memory active: 2.35 GiB",
            f"{log}Tokenizer is initialized from file.",
            f"{log}Optimizer and loss are initialized.",
            f"{log}Loss is initialized.",
            f"{log}Dataset and Sampler are initialized.",
            f"{log}Learning rate scheduler is initialized.",
            "WARNING:torchtune.utils._logging: Profiling disabled.",
            f"{log} Profiler config after instantiation: {{'enabled': False}}",
        ]
        return "\n".join(lines) + "\n"

    def checkpoint_lines(self, *, user: str, job: int, epoch: int, last: bool, seconds: float):
        """What the recipe and the checkpointer log when an epoch's checkpoint is saved."""
        log = "INFO:torchtune.utils._logging:"
        where = f"/scratch/{user}/runs/ck-out-{job}/epoch_{epoch}"
        lines = [
            f"{log}Starting checkpoint save...",
            f"{log}Model checkpoint of size 2.30 GiB saved to {where}/ft-model-00001-of-00001"
            ".safetensors",
        ]
        if self.lora_rank is not None:
            lines.append(
                f"{log}Adapter checkpoint of size 0.01 GiB saved to {where}/adapter_model.pt"
            )
        if last:
            lines.append(f"{log}Saving final epoch checkpoint.")
        lines.append(f"{log}Checkpoint saved in {seconds:.2f} seconds.")
        return "\n".join(lines) + "\n"


def disk_log_name(job: int) -> str:
    """DiskLogger's file name, ``log_{int(time.time())}.txt``, for a run started with ``job``."""
    return f"log_{1761000000 + job}.txt"
