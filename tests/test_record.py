"""The notebook as a record: shown, embedded and exported, against a real kernel and nbconvert."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.utils.capture import capture_output
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from designlog_magics import DesignLog, new_entry, parse, read_log, render
from designlog_magics.record import (
    METADATA_KEY,
    RECORD_MIMETYPE,
    RECORD_VERSION,
    LogRecord,
    LogSnapshot,
    RecordError,
    attach_log,
    entries_in_outputs,
    export_notebook,
    find_log,
    log_candidates,
    log_from_metadata,
    network_references,
    read_notebook,
    record_bundle,
    records_in_outputs,
    start_directories,
)
from tests.notebooks_util import (
    SESSION,
    copy_session,
    executed_session,
    session_entries,
    write_log,
)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    return executed_session(tmp_path_factory.getbasetemp())


@pytest.fixture
def own_session(session, tmp_path) -> Path:
    return copy_session(session, tmp_path / "copy")


def log_of(notebook: Path) -> Path:
    return notebook.parent / "exp" / "design-experiment.log"


def record_outputs(nb) -> list[dict]:
    return [
        output
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if RECORD_MIMETYPE in output.get("data", {})
    ]


# -- the executed notebook ----------------------------------------------------------------------
def test_the_kernel_is_this_environment(session):
    nb = nbformat.read(session, as_version=4)
    printed = nb.cells[1].outputs[0]["text"].strip()
    assert printed == sys.prefix  # the python3 kernelspec resolved to this venv's python


def test_every_magic_wrote_its_entry_and_showed_it(session):
    nb = nbformat.read(session, as_version=4)
    entries = read_log(log_of(session)).entries
    assert [e.action for e in entries] == ["START_DESIGN"] + [action for action, _, _ in SESSION]
    shown = [s.entry for s in entries_in_outputs(nb) if s.source == "output"]
    assert shown == entries  # each magic's plain-text output holds its entry, exactly
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", output


def test_record_output_holds_the_whole_log(session):
    nb = nbformat.read(session, as_version=4)
    data = log_of(session).read_bytes()
    (output,) = record_outputs(nb)
    document = output["data"][RECORD_MIMETYPE]
    assert document["version"] == RECORD_VERSION
    assert document["log_path"] == str(log_of(session))
    assert document["sha256"] == hashlib.sha256(data).hexdigest()
    assert document["text"] == data.decode()
    assert output["data"]["text/plain"] == data.decode()
    assert [tuple(e["fields"][0]) for e in document["entries"][1:]] == [
        tuple(fields[0]) for _, _, fields in SESSION
    ]
    page = output["data"]["text/html"]
    assert "<script" not in page.lower()
    for _, brief, _ in SESSION:
        assert html.escape(brief) in page
    ((cell, snapshot),) = records_in_outputs(nb)
    assert cell == len(nb.cells)
    assert list(snapshot.entries) == read_log(log_of(session)).entries
    assert nbformat.validate(nb) is None


# -- record bundle and LogRecord -----------------------------------------------------------------
def test_record_bundle_escapes_everything_and_keeps_the_text_exact(tmp_path):
    log = DesignLog(tmp_path)
    log.append(
        new_entry(
            "VERIFY_MODEL",
            "<script>alert(1)</script> & friends",
            command="ls '<b>'",
            result='a "quoted" <i>value</i>\nsecond line',
        )
    )
    bundle = record_bundle(log)
    assert set(bundle) == {"text/html", "text/markdown", "text/plain", RECORD_MIMETYPE}
    assert "<script>" not in bundle["text/html"] and "<i>" not in bundle["text/html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in bundle["text/html"]
    assert bundle["text/plain"] == log.path.read_text()
    document = bundle[RECORD_MIMETYPE]
    assert json.loads(json.dumps(document)) == document
    assert LogSnapshot.from_document(document).entries == tuple(log.entries)
    fenced = re.search(r"```text\n(.*)\n```", bundle["text/markdown"], re.S).group(1)
    assert parse(fenced + "\n").entries == log.entries


def test_record_of_a_log_not_written_yet_is_empty(tmp_path):
    bundle = record_bundle(DesignLog(tmp_path / "new"))
    assert bundle["text/plain"] == ""
    assert bundle[RECORD_MIMETYPE]["entries"] == []
    assert bundle[RECORD_MIMETYPE]["sha256"] == hashlib.sha256(b"").hexdigest()


def test_log_record_displays_as_a_record_in_ipython(ip, tmp_path):
    path = write_log(tmp_path, session_entries())
    record = LogRecord(tmp_path)
    data, _ = ip.display_formatter.format(record)
    assert data["text/plain"] == path.read_text()
    assert data[RECORD_MIMETYPE]["log_path"] == str(path)
    assert repr(record) == path.read_text()


def test_designlog_record_magic_shows_the_bundle(ip, tmp_path):
    ip.run_line_magic("designlog", f"start {tmp_path / 'exp'} --no-panel")
    ip.run_line_magic("log_entry", 'VERIFY_MODEL "Checking model" Result=exists')
    with capture_output() as captured:
        ip.run_line_magic("designlog", "record")
    (shown,) = [o.data for o in captured.outputs if RECORD_MIMETYPE in o.data]
    assert shown["text/plain"] == (tmp_path / "exp" / "design-experiment.log").read_text()


# -- reading a log back out of a notebook ----------------------------------------------------------
def _display(data: dict) -> object:
    return new_output("display_data", data=data)


def _notebook_with(*cells) -> object:
    return new_notebook(cells=list(cells))


def test_entries_shown_but_not_logged_are_left_out(tmp_path):
    entry = new_entry("VERIFY_MODEL", "shown only", result="exists")
    logged = new_entry("CHECK_DISK", "written", result="2T available")
    cell = new_code_cell(
        "%log_verify ...",
        outputs=[
            _display({"text/plain": "(not logged)\n" + render(entry).rstrip("\n")}),
            _display({"text/plain": "$ df -h .\nsome output\n" + render(logged)}),
        ],
    )
    shown = entries_in_outputs(_notebook_with(cell))
    assert [(s.entry, s.cell, s.source) for s in shown] == [(logged, 1, "output")]


def test_start_lines_are_read_with_their_options():
    cell = new_code_cell(
        "%load_ext designlog_magics\n"
        "%designlog start --no-panel runs/one\n"
        "%designlog start runs/two --paths a=/x b=/y --panel right  # resumed\n"
        "# %designlog start commented/out\n"
    )
    assert start_directories(_notebook_with(cell)) == ["runs/one", "runs/two"]


def test_log_is_found_in_the_documented_order(tmp_path):
    paths = {}
    for name in ("from_record", "from_metadata", "from_start"):
        paths[name] = write_log(tmp_path / name, session_entries())
    record = _display(record_bundle(paths["from_record"]))
    nb = _notebook_with(
        new_code_cell("%designlog start from_start"), new_code_cell(outputs=[record])
    )
    nb.metadata[METADATA_KEY] = LogSnapshot.from_file(paths["from_metadata"]).as_document()
    notebook = tmp_path / "design.ipynb"
    assert [c.path for c in log_candidates(nb, notebook)] == [
        paths["from_record"],
        paths["from_metadata"],
        paths["from_start"],
    ]
    assert find_log(nb, notebook).how == "the record shown in cell 2"
    paths["from_record"].unlink()  # a candidate whose file is gone is passed over
    assert find_log(nb, notebook).path == paths["from_metadata"]
    paths["from_metadata"].unlink()
    found = find_log(nb, notebook)
    assert (found.path, found.how) == (paths["from_start"], "a %designlog start line")
    paths["from_start"].unlink()
    with pytest.raises(RecordError, match="was not found: tried"):
        find_log(nb, notebook)
    with pytest.raises(RecordError, match="names no design log"):
        find_log(_notebook_with(new_markdown_cell("nothing")), notebook)


@pytest.mark.parametrize(
    "content, message",
    [(None, "no notebook at"), ("{", "not a readable notebook"), ("[]", "not a readable")],
)
def test_unreadable_notebooks_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "broken.ipynb"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RecordError, match=message):
        read_notebook(path)
    with pytest.raises(RecordError, match=message):
        attach_log(path)


# -- attach ------------------------------------------------------------------------------------
def test_attach_embeds_the_log_and_keeps_the_notebook_valid(own_session):
    before = nbformat.read(own_session, as_version=4)
    result = attach_log(own_session)
    assert result.how.startswith("the record shown in cell")
    nb = nbformat.read(own_session, as_version=4)
    nbformat.validate(nb)
    document = nb.metadata[METADATA_KEY]
    data = log_of(own_session).read_bytes()
    assert document["sha256"] == hashlib.sha256(data).hexdigest()
    assert document["text"] == data.decode()
    assert list(log_from_metadata(nb).entries) == read_log(log_of(own_session)).entries
    # the cells and outputs are untouched
    assert [c.get("outputs") for c in nb.cells] == [c.get("outputs") for c in before.cells]


def test_attach_with_an_explicit_log_and_without_any(tmp_path):
    log_path = write_log(tmp_path / "exp", session_entries())
    notebook = tmp_path / "plain.ipynb"
    nbformat.write(_notebook_with(new_markdown_cell("# notes")), notebook)
    with pytest.raises(RecordError, match="names no design log"):
        attach_log(notebook)
    result = attach_log(notebook, tmp_path / "exp")  # a directory is as good as its log
    assert result.log.path == log_path and result.how == "given"
    assert nbformat.read(notebook, 4).metadata[METADATA_KEY]["log_path"] == str(log_path)
    with pytest.raises(RecordError, match="no design log at"):
        attach_log(notebook, tmp_path / "nowhere.log")


# -- export ---------------------------------------------------------------------------------------
def test_export_html_is_self_contained_and_holds_every_entry(own_session):
    result = export_notebook(own_session, "html")
    page = result.path.read_text()
    assert result.path == own_session.with_suffix(".html")
    assert network_references(page) == []
    assert not re.search(r"<(script|link|img)\b[^>]*(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "<script" not in page.lower()
    # the notebook as a person reads it: markdown rendered, cells and their outputs
    assert "<h1" in page and "LoRA ranks on 8-letter words." in page
    readable = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "%load_ext designlog_magics" in readable
    assert "%designlog record" in readable
    # followed by the full log, exactly
    section = page[page.index('id="design-log"') :]
    text = html.unescape(re.search(r'<pre class="dlm-logtext">(.*?)</pre>', section, re.S)[1])
    assert text == log_of(own_session).read_text()
    entries = read_log(log_of(own_session)).entries
    assert parse(text).entries == entries
    for entry in entries:
        assert html.escape(entry.brief) in section
        for _, value in entry.fields:
            assert html.escape(value) in section


def test_export_markdown_holds_every_entry(own_session, tmp_path):
    target = tmp_path / "out" / "record.md"
    result = export_notebook(own_session, "markdown", target)
    assert result.path == target
    text = target.read_text()
    assert "# Design: cap_8L_lora_comparison" in text and "%log_entry VERIFY_MODEL" in text
    head, _, log_part = text.partition("\n## Design log\n")
    block = re.search(r"```text\n(.*?)\n```", log_part, re.S)[1]
    entries = read_log(log_of(own_session)).entries
    assert parse(block + "\n").entries == entries
    # each magic's own output is there as well, as readable log text, then the record's
    assert parse(_fenced_blocks(head)).entries == entries + entries
    assert network_references(text) == []


def _fenced_blocks(markdown: str) -> str:
    return "\n".join(m + "\n" for m in re.findall(r"```text\n(.*?)\n```", markdown, re.S))


def test_export_leaves_out_widgets_and_network_scripts(tmp_path):
    log_path = write_log(tmp_path / "exp", session_entries())
    widget = new_output(
        "display_data",
        data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2},
            "text/plain": "VBox(children=(Label(value='panel'),))",
        },
    )
    cdn = _display(
        {
            "text/html": '<div>chart</div><script src="https://cdn.example.org/lib.js"></script>'
            '<link rel="stylesheet" href="//cdn.example.org/x.css">',
            "text/plain": "chart",
        }
    )
    image = _display({"image/png": "iVBORw0KGgo=\n", "text/plain": "<Figure>"})
    nb = _notebook_with(
        new_code_cell(f"%designlog start {log_path.parent}", outputs=[widget, cdn, image])
    )
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    notebook = tmp_path / "w.ipynb"
    nbformat.write(nb, notebook)
    result = export_notebook(notebook, "html")
    page = result.path.read_text()
    assert result.removed_references == 2
    assert "<script" not in page.lower() and "cdn.example.org" not in page
    assert "widget-state" not in page and "VBox(children" in page
    assert 'src="data:image/png;base64,iVBORw0KGgo=' in page
    markdown = export_notebook(notebook, "markdown").path.read_text()
    assert (
        "![&lt;Figure&gt;]" not in markdown and "(data:image/png;base64,iVBORw0KGgo=)" in markdown
    )
    assert "cdn.example.org" not in markdown


def test_export_falls_back_to_the_embedded_log_and_refuses_bad_targets(own_session, tmp_path):
    attach_log(own_session)
    text = log_of(own_session).read_text()
    log_of(own_session).unlink()
    result = export_notebook(own_session, "markdown")
    assert text.rstrip("\n") in result.path.read_text()
    assert "metadata; the log file was not found" in result.path.read_text()
    with pytest.raises(RecordError, match="overwrite the notebook"):
        export_notebook(own_session, "html", own_session)
    with pytest.raises(RecordError, match="cannot export to 'pdf'"):
        export_notebook(own_session, "pdf")


def test_export_embeds_local_and_attached_images(tmp_path):
    log_path = write_log(tmp_path / "exp", session_entries())
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
        "AAAABJRU5ErkJggg=="
    )
    (tmp_path / "pic.png").write_bytes(base64.b64decode(png))
    notes = new_markdown_cell("![local](pic.png) ![attached](attachment:a.png)")
    notes.attachments = {"a.png": {"image/png": png}}
    nb = _notebook_with(new_code_cell(f"%designlog start {log_path.parent}"), notes)
    notebook = tmp_path / "images.ipynb"
    nbformat.write(nb, notebook)
    for to in ("html", "markdown"):
        text = export_notebook(notebook, to).path.read_text()
        assert "pic.png" not in text and "attachment:" not in text
        assert text.count(f"data:image/png;base64,{png}") == 2
