import pytest

from designlog_magics.entry import new_entry
from designlog_magics.masking import MASK, SecretMasker, mask_text


@pytest.mark.parametrize(
    "text, secret",
    [
        ("huggingface-cli login --token hf_abcdefghijklmnopqrstuvwxyz123456", "hf_abcdefghij"),
        ("mysql --password s3cr3t -h db", "s3cr3t"),
        ("tool --password=s3cr3t --x", "s3cr3t"),
        ("tool --api-key 'abc def'", "abc def"),
        ("HF_TOKEN=hf_xyz123 tune run lora", "hf_xyz123"),
        ("export WANDB_API_KEY=0123456789abcdef; python x.py", "0123456789abcdef"),
        ('export AWS_SECRET_ACCESS_KEY="wJalr/XUtnFEMI"', "wJalr"),
        ("TOKEN=abc", "abc"),
        ('curl -H "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x" https://x', "eyJhbGci"),
        ("git clone https://alice:pa55word@github.com/org/repo", "pa55word"),
        ('{"HF_TOKEN": "hf_secretvalue"}', "hf_secretvalue"),
        ("wandb login 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123"),
        ("ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 used", "ghp_ABCDEF"),
    ],
)
def test_credentials_are_masked(text, secret):
    masked = mask_text(text)
    assert secret not in masked
    assert MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "ls -lh {repo_dir}/data/green/capitalization/words_8L_80P_10000.json",
        "samples=8000, batch_size=4, speed=4.34 it/s, epochs=2",
        "max_tokens=512 tokenizer.json",
        "https://github.com/org/repo",
        'grep -E "[0-9.]+it/s" slurm-1.out | tail -20',
    ],
)
def test_ordinary_planning_text_is_left_alone(text):
    assert mask_text(text) == text


def test_masking_applies_to_brief_and_every_field_and_keeps_names():
    entry = new_entry("VERIFY_MODEL", "login with TOKEN=abc", command="HF_TOKEN=x ls", result="ok")
    masked = SecretMasker.from_patterns().mask_entry(entry)
    assert masked.brief == "login with TOKEN=****"
    assert masked.get("Command") == "HF_TOKEN=**** ls"
    assert masked.get("Result") == "ok"


def test_patterns_are_configurable_and_checked():
    masker = SecretMasker.from_patterns([r"project-(?P<secret>\d+)"])
    assert masker.mask("project-1234 TOKEN=abc") == "project-**** TOKEN=abc"
    with pytest.raises(ValueError, match="group named 'secret'"):
        SecretMasker.from_patterns([r"password"])
