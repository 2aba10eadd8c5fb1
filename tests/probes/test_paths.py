import json
import os

from designlog_magics.probes.paths import verify_path


def test_directory_facts(tmp_path):
    model = tmp_path / "Llama"
    (model / "sub").mkdir(parents=True)
    for name in ["tokenizer.json", "model.safetensors", "config.json"]:
        (model / name).write_bytes(b"x" * 1000)
    (model / "sub" / "extra.bin").write_bytes(b"y" * 24)
    facts = verify_path(model)
    assert facts.ok and facts.kind == "directory"
    assert facts.file_count == 4 and facts.size_bytes == 3024
    assert facts.names[:2] == ("config.json", "model.safetensors")
    assert facts.summary() == (
        "Directory exists with 4 files (config.json, model.safetensors, sub, etc.), 3.0K total"
    )


def test_dataset_with_splits_list_and_jsonl(tmp_path):
    splits = tmp_path / "d.json"
    splits.write_text(json.dumps({"train": [1, 2, 3], "validation": [4], "test": [5]}))
    facts = verify_path(splits)
    assert facts.records == 5 and facts.splits == {"train": 3, "validation": 1, "test": 1}
    assert "5 records (train 3, validation 1, test 1)" in facts.summary()
    listing = tmp_path / "l.json"
    listing.write_text(json.dumps([{"a": 1}] * 7))
    assert verify_path(listing).records == 7
    lines = tmp_path / "l.jsonl"
    lines.write_text('{"a": 1}\n{"a": 2}\n\n')
    assert verify_path(lines).records == 2
    disguised = tmp_path / "lines.json"
    disguised.write_text('{"a": 1}\n{"a": 2}\n')
    assert verify_path(disguised).records == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert "not valid JSON" in verify_path(broken).summary()


def test_missing_and_broken_link(tmp_path):
    facts = verify_path(tmp_path / "nope")
    assert not facts.ok and facts.summary() == "Missing: path does not exist"
    os.symlink(tmp_path / "gone", tmp_path / "link")
    assert verify_path(tmp_path / "link").error == "broken symbolic link"
