"""A cluster scratch space in miniature, built the same way every time, for the search benchmark.

The layout is what a prior-run search walks through on a real cluster:

    scratch/ck-out-<adjective>-<animal>-NNN/      fine-tuning runs (torchtune output dirs)
        slurm-<job>.out                           the SLURM output: small, large or on the edge
        epoch_0/ epoch_1/ epoch_2/                checkpoints (sharded safetensors, configs)
        logs/ wandb/run-*/ + wandb symlinks       metrics and W&B files, latest-run symlink
    scratch/old-ck-out-2024-NN/, my-ck-out-NN/    look-alikes the */ck-out-* pattern must skip
    scratch/hf-cache/hub/models--*/               Hugging Face cache: blobs + snapshot symlinks
    scratch/datasets/*/shard-*/part-*.arrow       tokenized shards, the bulk of the files
    scratch/data-prep/, eval-*/                   SLURM outputs outside any ck-out-* dir

plus the edge cases (names with spaces, a newline, unicode; a deep chain; symlinks to large
files and to run directories; a broken symlink; a directory named ``slurm-*.out``; a
directory with no permissions). Sizes come from ``ftruncate``: the files are sparse, so the
tree takes seconds to build and almost no disk. Nothing depends on the clock or on chance:
``random.Random(seed)`` drives every choice.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

VERSION = 2
MARKER_SUFFIX = ".tree.json"  # beside the tree, so it adds no file to it
ADJECTIVES = [
    "happy", "bright", "calm", "swift", "quiet", "tiny", "brave", "eager", "gentle", "jolly",
    "kind", "lively", "proud", "silly", "witty", "zesty", "bold", "cosmic", "dusty", "fuzzy",
]  # fmt: skip
ANIMALS = [
    "narwhal", "horizon", "dolphin", "otter", "falcon", "heron", "badger", "lynx", "marmot",
    "orca", "panda", "quokka", "raven", "salmon", "tapir", "walrus", "yak", "zebra", "ibis",
]  # fmt: skip
EPOCH_FILES = [
    ("model-00001-of-00004.safetensors", 4_976_698_672),
    ("model-00002-of-00004.safetensors", 4_999_802_720),
    ("model-00003-of-00004.safetensors", 4_915_916_176),
    ("model-00004-of-00004.safetensors", 1_168_138_808),
    ("model.safetensors.index.json", 23_950),
    ("adapter_model.safetensors", 109_069_176),
    ("adapter_config.json", 655),
    ("config.json", 877),
    ("generation_config.json", 189),
    ("tokenizer.json", 9_085_657),
    ("tokenizer_config.json", 54_528),
    ("special_tokens_map.json", 296),
]
# SLURM output sizes around find's -size +100k boundary (more than 102,400 bytes)
EDGE_SIZES = [0, 1, 4_096, 90_000, 101_376, 101_377, 102_399, 102_400, 102_401, 104_857]


@dataclass(frozen=True)
class TreeFacts:
    """What was built: counts, and where the tricky parts are."""

    root: str
    files: int  # regular files and symbolic links
    directories: int
    symlinks: int
    seed: int
    version: int = VERSION
    unreadable: str = ""  # the directory made unreadable (relative to root)


class _Builder:
    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.files = 0
        self.symlinks = 0

    def mkdir(self, relative: str) -> str:
        os.makedirs(self.root / relative, exist_ok=True)
        return relative

    def file(self, relative: str, size: int = 0) -> None:
        fd = os.open(self.root / relative, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if size:
                os.ftruncate(fd, size)
        finally:
            os.close(fd)
        self.files += 1

    def link(self, relative: str, target: str) -> None:
        os.symlink(target, self.root / relative)
        self.files += 1
        self.symlinks += 1

    def slurm_size(self, index: int) -> int:
        if index % 7 == 0:
            return EDGE_SIZES[(index // 7) % len(EDGE_SIZES)]
        if index % 3 == 0:
            return self.rng.randrange(2_000, 100_000)  # smoke tests, crashes
        return self.rng.randrange(150_000, 8_000_000)  # real training logs

    def run(self, index: int) -> None:
        rng = self.rng
        name = f"ck-out-{ADJECTIVES[index % 20]}-{ANIMALS[(index // 20) % 19]}-{index:03d}"
        run = self.mkdir(name)
        job = 4_100_000 + index * 37
        self.file(f"{run}/slurm-{job}.out", self.slurm_size(index))
        if index % 9 == 0:  # resubmitted: a second output in the same run
            self.file(f"{run}/slurm-{job + 1}.out", rng.randrange(150_000, 900_000))
        if index % 10 == 0:
            self.file(f"{run}/slurm-{job}.out.bak", 500_000)
            self.file(f"{run}/slurm-{job}.err", 300_000)
        if index % 25 == 0:  # a deeper output: */ck-out-* still matches
            self.mkdir(f"{run}/sub")
            self.file(f"{run}/sub/slurm-{job + 2}.out", 250_000)
        if index % 30 == 0:  # a link named like an output, to a large file: lstat is small
            self.link(f"{run}/slurm-{job + 3}.out", f"slurm-{job}.out")
        for epoch in range(3):
            folder = self.mkdir(f"{run}/epoch_{epoch}")
            for file_name, size in EPOCH_FILES:
                self.file(f"{folder}/{file_name}", size)
        logs = self.mkdir(f"{run}/logs")
        for n in range(3):
            stamp = 1_700_000_000 + index * 1000 + n
            self.file(f"{logs}/log_{stamp}.txt", rng.randrange(1, 60_000))
        wandb_run = f"run-20251{index % 10}{10 + index % 18:02d}_1{index % 10}3045-{index:08x}"
        self.mkdir(f"{run}/wandb/{wandb_run}/files")
        self.mkdir(f"{run}/wandb/{wandb_run}/logs")
        for file_name in (
            "config.yaml",
            "output.log",
            "requirements.txt",
            "wandb-metadata.json",
            "wandb-summary.json",
        ):
            self.file(f"{run}/wandb/{wandb_run}/files/{file_name}", rng.randrange(100, 200_000))
        self.file(f"{run}/wandb/{wandb_run}/logs/debug.log", 40_000)
        self.file(f"{run}/wandb/{wandb_run}/logs/debug-internal.log", 400_000)
        self.file(f"{run}/wandb/{wandb_run}/run-{index:08x}.wandb", 2_000_000)
        self.link(f"{run}/wandb/latest-run", wandb_run)
        self.link(f"{run}/wandb/debug.log", f"{wandb_run}/logs/debug.log")
        self.link(f"{run}/wandb/debug-internal.log", f"{wandb_run}/logs/debug-internal.log")

    def look_alikes(self, count: int) -> None:
        for index in range(count):
            for name in (f"old-ck-out-2024-{index:02d}", f"my-ck-out-{index:02d}"):
                self.mkdir(name)
                self.file(f"{name}/slurm-{3_900_000 + index}.out", 400_000)
            self.mkdir(f"ck-outx-{index:02d}")
            self.file(f"ck-outx-{index:02d}/slurm-{3_950_000 + index}.out", 400_000)
        for name in ("data-prep", "eval-cap-8L", "eval-cap-16L"):
            self.mkdir(name)
            for n in range(5):
                self.file(f"{name}/slurm-{4_000_000 + n}.out", 300_000)

    def hf_cache(self, models: int) -> None:
        rng = self.rng
        for index in range(models):
            model = f"hf-cache/hub/models--org{index % 13}--model-{index:03d}"
            self.mkdir(f"{model}/blobs")
            self.mkdir(f"{model}/refs")
            revision = f"{rng.getrandbits(160):040x}"
            self.mkdir(f"{model}/snapshots/{revision}")
            self.file(f"{model}/refs/main", 40)
            for n in range(12):
                blob = f"{rng.getrandbits(256):064x}"
                self.file(f"{model}/blobs/{blob}", rng.randrange(100, 5_000_000_000))
                self.link(f"{model}/snapshots/{revision}/file-{n:02d}.json", f"../../blobs/{blob}")

    def edge_cases(self) -> str:
        for name in ("ck-out-with space", "ck-out-new\nline", "ck-out-ünïcødé-ß"):
            self.mkdir(name)
            self.file(f"{name}/slurm-5000001.out", 200_000)
            self.file(f"{name}/slurm 5000002.out", 200_000)
        deep = "ck-out-deep"
        for level in range(60):
            deep += f"/level-{level:02d}"
        self.mkdir(deep)
        self.file(f"{deep}/slurm-5000003.out", 150_000)
        self.mkdir("ck-out-edges")
        self.file("ck-out-edges/.slurm-5000004.out", 150_000)  # find's -name '*' matches dots
        self.link("ck-out-edges/slurm-5000005.out", "does-not-exist")  # broken symlink
        self.mkdir("ck-out-edges/slurm-5000006.out")  # a directory named like an output
        self.file("ck-out-edges/slurm-5000006.out/slurm-5000007.out", 150_000)
        self.link("link-to-run", "ck-out-edges")  # a directory symlink: not followed
        self.link("ck-out-edges/link-to-big.out", "../ck-out-deep")
        self.mkdir("locked/ck-out-hidden")
        self.file("locked/ck-out-hidden/slurm-5000008.out", 150_000)
        return "locked"

    def datasets(self, target_files: int) -> None:
        shard, name = 0, 0
        while self.files < target_files:
            folder = self.mkdir(f"datasets/set-{name:02d}/shard-{shard:05d}")
            for part in range(min(500, target_files - self.files)):
                self.file(f"{folder}/part-{part:05d}.arrow", 1_000_000 + part)
            shard += 1
            if shard % 40 == 0:
                name += 1


def build(root: Path, files: int = 200_000, seed: int = 2025) -> TreeFacts:
    """Build the tree at ``root`` (which must not exist) with exactly ``files`` files."""
    root.mkdir(parents=True)
    builder = _Builder(root, seed)
    runs = max(1, files // 290)  # about a quarter of the files belong to runs
    for index in range(runs):
        builder.run(index)
    builder.look_alikes(max(1, files // 8_000))
    builder.hf_cache(max(1, files // 1_600))
    unreadable = builder.edge_cases()
    builder.datasets(files)
    directories = _count_directories(root)
    os.chmod(root / unreadable, 0)
    return TreeFacts(
        root=str(root),
        files=builder.files,
        directories=directories,
        symlinks=builder.symlinks,
        seed=seed,
        unreadable=unreadable,
    )


def _count_directories(root: Path) -> int:
    """Directories under ``root`` (itself included; symlinks not followed; all readable here)."""
    count, stack = 0, [os.fspath(root)]
    while stack:
        count += 1
        with os.scandir(stack.pop()) as entries:
            stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
    return count


def remove(root: Path) -> None:
    """Remove a tree built here (its locked directory first made removable again)."""
    if not root.exists():
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            os.chmod(child, stat.S_IRWXU)
    shutil.rmtree(root)


def ensure(root: Path, files: int = 200_000, seed: int = 2025) -> TreeFacts:
    """The tree at ``root``, built only if it is missing or was built with other settings."""
    marker = root.with_name(root.name + MARKER_SUFFIX)
    try:
        facts = TreeFacts(**json.loads(marker.read_text()))
        if (facts.files, facts.seed, facts.version) == (files, seed, VERSION):
            return facts
    except (OSError, ValueError, TypeError):
        pass
    marker.unlink(missing_ok=True)
    remove(root)
    building = root.with_name(root.name + f".building-{os.getpid()}")
    remove(building)
    facts = build(building, files, seed)
    building.rename(root)
    facts = TreeFacts(**{**asdict(facts), "root": str(root)})
    marker.write_text(json.dumps(asdict(facts)))
    return facts


if __name__ == "__main__":
    import sys
    import time

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/data/bench_search/scratch")
    began = time.perf_counter()
    print(ensure(target), f"{time.perf_counter() - began:.1f} s")
