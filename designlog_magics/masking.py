"""Keep credentials out of the log: values are masked before they are written.

Commands typed in a planning notebook often carry tokens (``HF_TOKEN=... huggingface-cli``,
``wandb login KEY``, ``curl -H "Authorization: Bearer ..."``). A log is shared and archived, so
anything that looks like a credential is replaced by ``****`` on its way to the file.

Each pattern is a regular expression with a group named ``secret``; only that group is replaced.
The defaults are in :data:`DEFAULT_SECRET_PATTERNS`; pass your own list to :class:`SecretMasker`
(or set ``%config DesignLogMagics.secret_patterns``) to extend or replace them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .entry import Entry

MASK = "****"

_SECRET_WORDS = (
    r"(?:[A-Za-z0-9]*_)?(?:TOKEN|SECRET|PASSWORD|PASSWD|PASS|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY"
    r"|CREDENTIALS?|AUTH)(?:_[A-Za-z0-9]+)*"
)

DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    # --password X, --token=X, --api-key X, -p=X is too ambiguous to mask
    r"(?i)--(?:[a-z0-9]+-)*(?:password|passwd|token|secret|api-?key|access-?key|auth)"
    r"(?:=|\s+)(?P<secret>(?!-)(?:\"[^\"]*\"|'[^']*'|\S+))",
    # HF_TOKEN=..., WANDB_API_KEY=..., export AWS_SECRET_ACCESS_KEY="..."
    rf"(?i)\b{_SECRET_WORDS}\s*=\s*(?P<secret>\"[^\"]*\"|'[^']*'|[^\s;&|]+)",
    # "HF_TOKEN": "..." or HF_TOKEN: ... in JSON/YAML-ish text
    rf"(?i)[\"']?\b{_SECRET_WORDS}[\"']?\s*:\s*(?P<secret>\"[^\"]*\"|'[^']*'|[^\s,}}]+)",
    # Authorization: Bearer xyz / bearer tokens anywhere
    r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
    # scheme://user:password@host
    r"(?i)\b[a-z][a-z0-9+.-]*://[^\s/:@]+:(?P<secret>[^\s/@]+)@",
    # well-known token shapes: Hugging Face, GitHub, OpenAI-style, Slack
    r"\b(?P<secret>hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,})",
    # wandb login <40 hex>
    r"(?i)\bwandb\s+login\s+(?:--\S+\s+)*(?P<secret>[0-9a-f]{32,})",
)


@dataclass(frozen=True)
class SecretMasker:
    """Replaces the ``secret`` group of each pattern by ``****``."""

    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def from_patterns(cls, patterns: Iterable[str | re.Pattern[str]] | None = None) -> SecretMasker:
        """Compile ``patterns`` (the defaults when ``None``); each must have a ``secret`` group."""
        compiled = []
        for pattern in DEFAULT_SECRET_PATTERNS if patterns is None else patterns:
            regex = re.compile(pattern) if isinstance(pattern, str) else pattern
            if "secret" not in regex.groupindex:
                raise ValueError(
                    f"secret pattern {regex.pattern!r} needs a group named 'secret', "
                    f"e.g. (?P<secret>...)"
                )
            compiled.append(regex)
        return cls(tuple(compiled))

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``****``."""
        for regex in self.patterns:
            text = regex.sub(_replace_secret_group, text)
        return text

    def mask_entry(self, entry: Entry) -> Entry:
        """The entry with its brief and every field value masked."""
        brief = self.mask(entry.brief)
        pairs = tuple((key, self.mask(value)) for key, value in entry.fields)
        if brief == entry.brief and pairs == entry.fields:
            return entry
        return Entry(entry.timestamp, entry.action, brief, pairs)


def _replace_secret_group(match: re.Match[str]) -> str:
    start, end = match.span("secret")
    if start < 0 or match.group("secret") == MASK:
        return match.group()
    whole_start = match.start()
    text = match.group()
    return text[: start - whole_start] + MASK + text[end - whole_start :]


@functools.cache
def default_masker() -> SecretMasker:
    """The masker with the built-in patterns (compiled on first use)."""
    return SecretMasker.from_patterns()


def mask_text(text: str, patterns: Sequence[str] | None = None) -> str:
    """Mask ``text`` with the default patterns (or ``patterns``)."""
    masker = default_masker() if patterns is None else SecretMasker.from_patterns(patterns)
    return masker.mask(text)
