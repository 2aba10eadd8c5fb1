"""The steady training speed (it/s after warmup) of a prior run, from its SLURM output."""

from .scanner import EpochSpeed, SpeedReport, extract_speed, grep_command

__all__ = ["EpochSpeed", "SpeedReport", "extract_speed", "grep_command"]
