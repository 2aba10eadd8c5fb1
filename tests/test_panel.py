"""The live panel, with real ipywidgets (no browser): what it holds, follows and escapes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from designlog_magics import DesignLog, new_entry, read_log
from designlog_magics.audit import DESIGN_STEPS, steps_done
from designlog_magics.display import LogView, StepView, entry_card_html
from designlog_magics.panel import (
    _PANEL_CSS,
    LIVE_BLOCK_SIZE,
    PROBLEMS,
    DesignLogPanel,
    open_panel,
)
from designlog_magics.placement import side_panel_support
from tests.css_select import matches, parse_html, selectors, styled

ROOT = Path(__file__).resolve().parent.parent
EVIL = "<img src=x onerror=alert(1)>.json"


# -- helpers -------------------------------------------------------------------------------
class RecordingComm:
    """Stands in for the kernel's comm: keeps every message a widget sends, serialised."""

    sent: list[tuple[str, int, str]] = []

    @classmethod
    def install(cls, monkeypatch):
        import comm as comm_module
        from comm import DummyComm

        class Comm(DummyComm):
            def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
                cls.sent.append((msg_type, len(json.dumps(data, default=str)), self.comm_id))

        monkeypatch.setattr(comm_module, "create_comm", lambda *a, **k: Comm(*a, **k))
        cls.sent = []
        return cls


def panel_on(log, **kwargs) -> DesignLogPanel:
    kwargs.setdefault("follow", False)
    kwargs.setdefault("display", False)
    return open_panel(log, **kwargs)


def html_of(panel: DesignLogPanel) -> str:
    """Every piece of HTML the panel's widgets hold (the header, the checklist, the cards)."""
    parts = [panel._header.value, panel._notice.value, panel._checklist.value]
    for block in panel._cards_box.children:
        if hasattr(block, "children"):
            parts.extend(card.value for card in block.children)
        else:
            parts.append(block.value)
    return "".join(parts)


def card_count(panel: DesignLogPanel) -> int:
    return html_of(panel).count('class="dlm-card')


def log_with(tmp_path, entries) -> DesignLog:
    log = DesignLog(tmp_path / "exp")
    if entries:
        log.append_many(entries)
    return log


def append_from_subprocess(directory: Path, *entries: tuple[str, str, dict]) -> None:
    """Append entries through the Python API from a separate interpreter."""
    code = textwrap.dedent(
        """
        import json, sys
        from designlog_magics import DesignLog, new_entry
        log = DesignLog(sys.argv[1])
        for action, brief, fields in json.loads(sys.argv[2]):
            log.append(new_entry(action, brief, fields))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run(
        [sys.executable, "-c", code, str(directory), json.dumps(entries)],
        check=True,
        env=env,
        timeout=60,
    )


@pytest.fixture(autouse=True)
def _no_side_panel_env(monkeypatch):
    monkeypatch.delenv("DESIGNLOG_SIDE_PANEL", raising=False)


# -- what it shows ---------------------------------------------------------------------------
def test_panel_shows_the_log_in_file_order(tmp_path):
    log = log_with(
        tmp_path,
        [
            new_entry("VERIFY_MODEL", "Checking model", command="ls m", result="exists"),
            new_entry("VERIFY_DATASET", "Checking data", result="10,000 rows"),
        ],
    )
    panel = panel_on(log)
    assert panel.entries_shown() == read_log(log.path).entries
    assert card_count(panel) == 2
    head = panel._header.value
    assert str(log.path) in head and "<b>2</b> entries" in head
    assert "pending" not in head
    panel.close()


def test_appends_from_this_process_show_after_refresh(tmp_path):
    log = log_with(tmp_path, [])
    panel = panel_on(log)
    assert panel.entries_shown() == []
    assert panel._empty.layout.display is None  # "No entries yet."
    written = log.append(new_entry("DECIDE_NAMING", "Name", decision="cap_8L_2025-10-22"))
    assert panel.entries_shown() == []  # nothing moves until the panel looks
    assert panel.refresh() == [written]
    assert panel.entries_shown() == [written]
    assert panel._empty.layout.display == "none"
    assert "cap_8L_2025-10-22" in html_of(panel)
    assert panel.refresh() == []  # nothing new: nothing read twice
    panel.close()


def test_appends_from_another_process_show_after_refresh(tmp_path):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "here", result="exists")])
    panel = panel_on(log)
    append_from_subprocess(
        log.experiment_dir,
        ("SEARCH_PRIOR_RUNS", "from a script", {"Result": "3 runs"}),
        ("EXTRACT_SPEED", "speed", {"Result": "2.1 it/s"}),
    )
    new = panel.refresh()
    assert [e.brief for e in new] == ["from a script", "speed"]
    assert panel.entries_shown() == read_log(log.path).entries
    assert [e.action for e in panel.entries_shown()] == [
        "VERIFY_MODEL",
        "SEARCH_PRIOR_RUNS",
        "EXTRACT_SPEED",
    ]
    panel.close()


def test_follow_callback_runs_on_the_given_event_loop(tmp_path):
    """In a kernel the panel schedules itself on the kernel's loop; here on a test loop (in a
    thread of its own, so that no other loop of the test process is in the way)."""
    log = log_with(tmp_path, [])
    seen: dict[str, object] = {}

    def scenario() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            panel = open_panel(log, display=False, loop=loop, interval=0.05)
            loop.run_until_complete(asyncio.sleep(0))  # the first look is scheduled
            seen["following"] = panel.following
            append_from_subprocess(log.experiment_dir, ("VERIFY_MODEL", "outside", {}))

            async def until_shown():
                while not panel.entries_shown():
                    await asyncio.sleep(0.01)

            loop.run_until_complete(asyncio.wait_for(until_shown(), 30))
            seen["shown"] = [e.brief for e in panel.entries_shown()]
            panel.close()
            seen["following after close"] = panel.following
            log.append(new_entry("VERIFY_DATASET", "after close"))
            loop.run_until_complete(asyncio.sleep(0.2))
            seen["read after close"] = len(panel.entries())
        except BaseException as exc:  # handed to the test's thread
            seen["error"] = exc
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    worker = threading.Thread(target=scenario)
    worker.start()
    worker.join(120)
    if "error" in seen:
        raise seen["error"]  # type: ignore[misc]
    assert seen == {
        "following": True,
        "shown": ["outside"],
        "following after close": False,
        "read after close": 1,  # a closed panel no longer reads
    }


def test_a_failed_look_is_shown_and_following_goes_on(tmp_path, monkeypatch):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "m")])
    panel = panel_on(log)
    real_poll = panel._follower.poll

    def broken():
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(panel._follower, "poll", broken)
    panel._tick()  # the follow callback
    assert "cannot read the log: PermissionError" in panel._header.value
    monkeypatch.setattr(panel._follower, "poll", real_poll)
    log.append(new_entry("VERIFY_DATASET", "d"))
    panel._tick()
    assert "cannot read the log" not in panel._header.value
    assert [e.brief for e in panel.entries_shown()] == ["m", "d"]
    assert len(panel.errors) == 1
    panel.close()


@pytest.mark.parametrize("how", ["directory replaced by a file", "log made unreadable"])
def test_a_lasting_read_failure_is_listed_once_and_cleared_when_reads_work(tmp_path, how):
    """Looks every 0.5 s at a log that cannot be read: one line in the errors and one notice
    in the header (with the number of looks and the time it started), not one per look."""
    if how == "log made unreadable" and os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "m")])
    panel = panel_on(log)
    directory, moved = log.experiment_dir, tmp_path / "moved"

    def break_it():
        if how == "directory replaced by a file":
            directory.rename(moved)
            directory.write_text("not a directory\n")  # opening the log: NotADirectoryError
        else:
            log.path.chmod(0)

    def mend_it():
        if how == "directory replaced by a file":
            directory.unlink()
            moved.rename(directory)
        else:
            log.path.chmod(0o644)

    break_it()
    for _ in range(6):  # three seconds' worth of looks
        panel._tick()
    expected_error = (
        "NotADirectoryError" if how == "directory replaced by a file" else "PermissionError"
    )
    assert len(panel.errors) == 1 and expected_error in panel.errors[0]
    head = panel._header.value
    assert head.count("cannot read the log") == 1 and expected_error in head
    assert "6 looks" in head and "since " in head
    assert panel.failure is not None and panel.failure.looks == 6
    assert panel.failure.message == panel.errors[0]

    mend_it()
    log.append(new_entry("VERIFY_DATASET", "d"))
    panel._tick()
    assert panel.failure is None
    assert "cannot read the log" not in panel._header.value
    assert [e.brief for e in panel.entries_shown()] == ["m", "d"]
    for _ in range(3):
        panel._tick()
    assert len(panel.errors) == 1  # a history of failures, not of looks

    break_it()  # a new failure, after reads worked: a second line
    panel._tick()
    panel._tick()
    assert len(panel.errors) == 2 and panel.failure.looks == 2
    assert "2 looks" in panel._header.value
    mend_it()
    panel._tick()
    assert panel.failure is None and "cannot read the log" not in panel._header.value
    panel.close()


def test_outside_a_kernel_nothing_is_scheduled(tmp_path):
    panel = open_panel(log_with(tmp_path, []), display=False)
    assert not panel.following
    assert panel.placement == "inline"
    panel.close()


def test_a_cut_entry_waits_for_its_end(tmp_path):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "one")])
    panel = panel_on(log)
    with open(log.path, "ab") as handle:
        handle.write(b"[2025-10-22 10:00:00] VERIFY_DATASET: half")
    assert panel.refresh() == []
    assert "being written" in panel._header.value
    with open(log.path, "ab") as handle:
        handle.write(b" written\nResult: ok\n\n")
    assert [e.brief for e in panel.refresh()] == ["half written"]
    assert "being written" not in panel._header.value
    panel.close()


def test_a_replaced_file_is_shown_afresh(tmp_path):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "one"), new_entry("VERIFY_MODEL", "two")])
    panel = panel_on(log)
    replacement = tmp_path / "other"
    other = DesignLog(replacement)
    other.append(new_entry("DECIDE_NAMING", "fresh"))
    os.replace(other.path, log.path)
    panel.refresh()
    assert [e.brief for e in panel.entries_shown()] == ["fresh"]
    assert "replaced or shortened" in panel._notice.value
    assert panel.checklist()["model"] is False and panel.checklist()["naming"] is True
    panel.close()


# -- escaping ----------------------------------------------------------------------------------
def test_everything_shown_is_escaped(tmp_path):
    log = DesignLog(tmp_path / "<b>exp</b>")
    log.append(
        new_entry(
            "VERIFY_DATASET",
            f"Checking {EVIL}",
            command=f"ls -la '{EVIL}'",
            result="exists",
            explanation="<script>alert(2)</script>",
        )
    )
    panel = panel_on(log)
    shown = html_of(panel)
    assert "<img" not in shown and "<script" not in shown and "<b>exp" not in shown
    assert "&lt;img src=x onerror=alert(1)&gt;.json" in shown
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in shown
    assert "&lt;b&gt;exp&lt;/b&gt;" in panel._header.value
    # filtering by the raw text finds it; a filter term never enters markup
    panel.set_filters(text="<img src=x")
    assert len(panel.entries_shown()) == 1
    panel.set_filters(text="<img src=nothing")
    assert panel.entries_shown() == []
    assert "<img" not in html_of(panel) + panel._empty.value
    panel.close()


def test_many_entries_at_once_are_escaped_in_blocks_too(tmp_path):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", f"{EVIL} {i}") for i in range(250)])
    panel = panel_on(log)
    shown = html_of(panel)
    assert "<img" not in shown
    assert shown.count("&lt;img src=x onerror=alert(1)&gt;.json") == 250
    panel.close()


# -- header, checklist, failures ---------------------------------------------------------------
def test_checklist_is_ticked_from_the_log(tmp_path):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "m", result="exists")])
    panel = panel_on(log)
    assert panel.checklist() == steps_done(read_log(log.path).entries)
    assert 'data-step="model" data-done="1"' in panel._checklist.value
    assert 'data-step="disk" data-done="0"' in panel._checklist.value
    log.append(new_entry("CHECK_DISK", "disk", result="Failed: path does not exist"))
    panel.refresh()
    assert panel.checklist()["disk"] is False  # a failed check ticks nothing
    log.append_many(
        [
            new_entry(step.action, step.label, result="ok")
            for step in DESIGN_STEPS
            if step.key != "model"
        ]
    )
    panel.refresh()
    assert panel.checklist() == steps_done(read_log(log.path).entries)
    assert all(panel.checklist().values())
    assert panel._checklist.value.count('data-done="1"') == len(DESIGN_STEPS)
    for step in DESIGN_STEPS:
        assert step.label in panel._checklist.value
    panel.close()


def test_failures_and_warnings_stand_out_and_are_counted(tmp_path):
    log = log_with(
        tmp_path,
        [
            new_entry("VERIFY_MODEL", "ok", result="exists"),
            new_entry("VERIFY_DATASET", "gone", result="Failed: missing", error="ENOENT"),
            new_entry("CHECK_DISK", "tight", result="Warning: 3G free", warning="low"),
        ],
    )
    panel = panel_on(log)
    shown = html_of(panel)
    assert shown.count("dlm-failed") == 1 and shown.count("dlm-warned") == 1
    assert "1 failed" in panel._header.value and "1 warning" in panel._header.value
    panel.set_filters(action=PROBLEMS)
    assert [e.brief for e in panel.entries_shown()] == ["gone", "tight"]
    panel.close()


def test_multi_line_values_are_kept(tmp_path):
    log = log_with(
        tmp_path,
        [new_entry("CREATE_SUMMARY", "summary", result="line one\nline two\n  indented")],
    )
    panel = panel_on(log)
    assert panel.entries_shown()[0].get("Result") == "line one\nline two\n  indented"
    assert "line one\nline two\n  indented" in html_of(panel)  # shown with pre-wrap
    panel.close()


def test_pending_entries_are_counted(tmp_path):
    """The log's directory disappears (root writes read-only files), so appends wait."""
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "m")])
    panel = panel_on(log)
    moved = tmp_path / "moved"
    os.rename(log.experiment_dir, moved)
    try:
        with pytest.raises(OSError):
            log.append(new_entry("VERIFY_DATASET", "d"))
        with pytest.raises(OSError):
            log.append(new_entry("CHECK_DISK", "k"))
        panel.refresh()
        assert "2 pending (not written yet)" in panel._header.value
        assert panel.entries_shown()[-1].brief == "m"
    finally:
        os.rename(moved, log.experiment_dir)
    log.flush_pending()
    panel.refresh()
    assert "dlm-count-pending" not in panel._header.value
    assert [e.brief for e in panel.entries_shown()] == ["m", "d", "k"]
    panel.close()


# -- filters -----------------------------------------------------------------------------------
def test_filters_by_type_and_text(tmp_path):
    log = log_with(
        tmp_path,
        [
            new_entry("VERIFY_MODEL", "Llama model", result="exists"),
            new_entry("VERIFY_DATASET", "words dataset", result="10,000 rows"),
            new_entry("CHECK_DISK", "scratch", result="2.1T free"),
        ],
    )
    panel = panel_on(log)
    values = [value for _, value in panel._type_filter.options]
    assert {"VERIFY_MODEL", "VERIFY_DATASET", "CHECK_DISK"} <= set(values)

    panel._type_filter.value = "VERIFY_DATASET"  # what the dropdown does
    assert [e.action for e in panel.entries_shown()] == ["VERIFY_DATASET"]
    assert card_count(panel) == 1
    assert "1 shown" in panel._header.value

    panel._type_filter.value = ""
    panel._text_filter.value = "TB"  # no match
    assert panel.entries_shown() == []
    assert "No entries match" in panel._empty.value
    panel._text_filter.value = "2.1t"  # case-insensitive, over field values
    assert [e.action for e in panel.entries_shown()] == ["CHECK_DISK"]

    # an append under a filter shows only if it matches
    log.append(new_entry("CHECK_DISK", "home", result="2.1T free again"))
    log.append(new_entry("VERIFY_MODEL", "other", result="exists"))
    panel.refresh()
    assert [e.brief for e in panel.entries_shown()] == ["scratch", "home"]

    panel.set_filters(action="", text="")
    assert panel.entries_shown() == read_log(log.path).entries
    assert card_count(panel) == 5
    assert "shown" not in panel._header.value
    panel.close()


def test_a_new_action_type_joins_the_dropdown_without_losing_the_selection(tmp_path):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "m")])
    panel = panel_on(log)
    panel._type_filter.value = "VERIFY_MODEL"
    log.append(new_entry("VERIFY_EVAL_TASK", "custom type"))
    panel.refresh()
    assert "VERIFY_EVAL_TASK" in [value for _, value in panel._type_filter.options]
    assert panel._type_filter.value == "VERIFY_MODEL"
    assert [e.brief for e in panel.entries_shown()] == ["m"]
    with pytest.raises(ValueError):
        panel.set_filters(action="NO_SUCH_TYPE")
    panel.close()


# -- several panels, restarts -----------------------------------------------------------------
def test_two_panels_on_one_log_stay_consistent(tmp_path):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "m")])
    first = panel_on(log)
    log.append(new_entry("VERIFY_DATASET", "d"))
    second = panel_on(DesignLog(log.experiment_dir))  # another DesignLog on the same file
    append_from_subprocess(log.experiment_dir, ("CHECK_DISK", "k", {}))
    log.append(new_entry("DECIDE_NAMING", "n"))
    first.refresh()
    second.refresh()
    expected = read_log(log.path).entries
    assert first.entries_shown() == second.entries_shown() == expected
    assert html_of(first).count("dlm-card") == html_of(second).count("dlm-card")
    assert first.checklist() == second.checklist()
    first.close()
    log.append(new_entry("CREATE_SUMMARY", "s"))
    second.refresh()
    assert second.entries_shown() == read_log(log.path).entries
    second.close()


def test_a_new_panel_on_an_existing_log_shows_all_of_it(tmp_path):
    """A kernel restart, then %designlog start on the same directory: a new DesignLog and
    a new panel on a file that already has entries."""
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", f"entry {i}") for i in range(357)])
    panel = panel_on(log)
    log.append(new_entry("VERIFY_DATASET", "last before restart"))
    panel.refresh()
    panel.close()

    again = panel_on(DesignLog(log.experiment_dir))
    expected = read_log(log.path).entries
    assert len(expected) == 358
    assert again.entries_shown() == expected
    assert card_count(again) == 358
    assert "<b>358</b> entries" in again._header.value
    again.close()


def test_close_closes_every_widget(tmp_path):
    from ipywidgets.widgets.widget import _instances

    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", f"e{i}") for i in range(150)])
    before = set(_instances)
    panel = panel_on(log)
    for i in range(5):
        log.append(new_entry("VERIFY_DATASET", f"d{i}"))
        panel.refresh()
    panel.set_filters(text="d")
    assert set(_instances) - before
    panel.close()
    assert set(_instances) - before == set()
    assert panel.refresh() == []
    panel.close()  # twice is harmless


# -- cost of an append -------------------------------------------------------------------------
def _append_messages(tmp_path, name, existing, monkeypatch):
    """The messages sent to the front end by the append of entry ``existing + 1``."""
    recorder = RecordingComm.install(monkeypatch)
    log = log_with(tmp_path / name, [new_entry("VERIFY_MODEL", f"e{i}") for i in range(existing)])
    panel = panel_on(log)
    recorder.sent = []
    log.append(new_entry("VERIFY_MODEL", "measured"))
    panel.refresh()
    sent = list(recorder.sent)
    panel.close()
    return sent


@pytest.mark.parametrize("small, large", [(4, 4_999), (127, 9_927), (150, 5_050)])
def test_an_append_sends_the_same_messages_whatever_the_length_of_the_log(
    tmp_path, monkeypatch, small, large
):
    few = _append_messages(tmp_path, "small", small, monkeypatch)
    many = _append_messages(tmp_path, "large", large, monkeypatch)
    # the same messages: the new card, the last block's children, the header
    assert [kind for kind, _, _ in few] == [kind for kind, _, _ in many]
    assert [kind for kind, _, _ in few] == ["comm_open", "comm_msg", "comm_msg"]
    # none grows with the log: the largest is the live block's list of (at most 20) ids
    assert max(size for _, size, _ in many) < LIVE_BLOCK_SIZE * 50 + 3_000
    if small % LIVE_BLOCK_SIZE == large % LIVE_BLOCK_SIZE:  # the same place in the block
        size_few = sum(size for _, size, _ in few)
        size_many = sum(size for _, size, _ in many)
        assert abs(size_many - size_few) < 64  # only the header's digits differ


def test_a_new_block_is_opened_once_per_block(tmp_path, monkeypatch):
    recorder = RecordingComm.install(monkeypatch)
    log = log_with(tmp_path, [])
    panel = panel_on(log, live_block_size=10)
    opened = []
    for i in range(35):
        recorder.sent = []
        log.append(new_entry("VERIFY_MODEL", f"e{i}"))
        panel.refresh()
        opened.append([kind for kind, _, _ in recorder.sent].count("comm_open"))
    # a new block (one VBox) at entries 1, 11, 21, 31; otherwise only the card
    assert [i for i, count in enumerate(opened) if count == 2] == [0, 10, 20, 30]
    assert set(opened) == {1, 2}
    panel.close()


def test_appends_fill_blocks_then_open_a_new_one(tmp_path, monkeypatch):
    log = log_with(tmp_path, [])
    panel = panel_on(log, block_size=8, live_block_size=4)
    for i in range(10):
        log.append(new_entry("VERIFY_MODEL", f"e{i}"))
        panel.refresh()
    sizes = [len(block.children) for block in panel._cards_box.children]
    assert sizes == [4, 4, 2]
    assert [e.brief for e in panel.entries_shown()] == [f"e{i}" for i in range(10)]
    # many at once: the live block is filled, then whole blocks become one HTML widget
    # each (8 cards, then 4), and the rest starts a new live block
    log.append_many([new_entry("VERIFY_DATASET", f"d{i}") for i in range(17)])
    panel.refresh()
    kinds = [
        len(block.children) if hasattr(block, "children") else html_of_block(block)
        for block in panel._cards_box.children
    ]
    assert kinds == [4, 4, 4, "html 8", "html 4", 3]
    assert len(panel.entries_shown()) == 27 and card_count(panel) == 27
    assert panel.entries_shown() == read_log(log.path).entries
    panel.close()


def html_of_block(block) -> str:
    cards = block.value.count('class="dlm-card')
    return f"html {cards}"


# -- placement -------------------------------------------------------------------------------
def test_outside_jupyterlab_a_side_placement_falls_back_inline_and_says_so(tmp_path, capsys):
    log = log_with(tmp_path, [new_entry("VERIFY_MODEL", "m")])
    supported, reason = side_panel_support()
    assert not supported and "kernel" in reason
    panel = open_panel(log, placement="split-right", follow=False)
    assert panel.placement == "inline" and panel.requested_placement == "split-right"
    assert panel.fallback_reason == reason
    assert panel._notice.value.count("Shown here rather than in a side panel") == 1
    out = capsys.readouterr().out  # no front end: the text form, one line
    assert "Design log panel, inline" in out and str(log.path) in out
    assert len(out.strip().splitlines()) == 1
    panel.refresh()
    assert panel._notice.value.count("Shown here rather than") == 1  # said once
    panel.close()

    inline = open_panel(log, placement="inline", follow=False)
    assert inline.fallback_reason is None and inline._notice.layout.display == "none"
    inline.close()
    with pytest.raises(ValueError, match="placement"):
        open_panel(log, placement="upside-down")


def test_side_panel_rules(monkeypatch):
    class Kernel:
        pass

    class Shell:
        kernel = Kernel()
        user_ns: dict = {}

    import designlog_magics.placement as placement_module

    monkeypatch.setattr(placement_module, "current_shell", lambda: Shell())
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("VSCODE_PID", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    assert side_panel_support() == (
        False,
        "the kernel was not started from JupyterLab (no JPY_SESSION_NAME)",
    )
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/design.ipynb")
    assert side_panel_support() == (True, "")
    monkeypatch.setenv("DESIGNLOG_SIDE_PANEL", "0")
    assert side_panel_support()[0] is False
    monkeypatch.setenv("DESIGNLOG_SIDE_PANEL", "1")
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert side_panel_support() == (True, "")
    monkeypatch.delenv("DESIGNLOG_SIDE_PANEL")
    monkeypatch.setenv("JPY_SESSION_NAME", "x.ipynb")
    Shell.user_ns = {"__vsc_ipynb_file__": "/x.ipynb"}
    assert side_panel_support() == (False, "VS Code has no side panel")


def test_importing_the_package_imports_no_widgets():
    code = (
        "import sys, designlog_magics, designlog_magics.panel\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('ipywidgets', 'sidecar', 'jupyterlab')]\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


# -- the panel's styles stay in the panel ------------------------------------------------------
def in_output_area(html: str) -> str:
    """``html`` where JupyterLab puts a cell's rich output."""
    return (
        '<div class="jp-Cell jp-CodeCell jp-Notebook-cell"><div class="jp-Cell-outputWrapper">'
        '<div class="jp-OutputArea jp-Cell-outputArea"><div class="jp-OutputArea-child">'
        '<div class="jp-RenderedHTMLCommon jp-RenderedHTML jp-OutputArea-output" '
        f'data-mime-type="text/html">{html}</div></div></div></div></div>'
    )


def panel_dom(panel: DesignLogPanel) -> str:
    """The panel's widgets as ipywidgets lays them out in the page (their HTML inside)."""

    def html_widget(classes: str, value: str) -> str:
        return (
            f'<div class="lm-Widget jupyter-widgets widget-inline-hbox widget-html {classes}">'
            f'<div class="widget-html-content">{value}</div></div>'
        )

    cards = "".join(entry_card_html(entry) for entry in panel.entries_shown())
    blocks = html_widget("dlm-panel-block", cards)
    return in_output_area(
        '<div class="lm-Widget jupyter-widgets widget-container widget-box widget-vbox '
        'dlm-panel dlm-panel-inline">'
        + html_widget("dlm-panel-header", panel._header.value)
        + html_widget("dlm-panel-checklist", panel._checklist.value)
        + '<div class="widget-container widget-box widget-vbox dlm-panel-body">'
        + f'<div class="widget-vbox dlm-panel-cards">{blocks}</div></div></div>'
    )


def test_the_panel_styles_nothing_of_the_notebooks_own_outputs(tmp_path):
    """The panel's stylesheet is global in the page: no rule of it may reach what a magic
    shows in its cell (StepView) or what %designlog show shows (LogView)."""
    failed = new_entry("SEARCH_PRIOR_RUNS", "s", result="Failed: none", error="nothing found")
    entries = [new_entry("VERIFY_MODEL", "m", command="ls m", result="exists"), failed]
    views = {
        "a logged step": StepView(
            entry=entries[0], outputs=[("ls m", "a\nb\n", "warning\n")], notes=["a note"]
        ),
        "a step not logged": StepView(entry=failed, logged=False),
        "a status": StepView(notes=["Log: x\nSteps:\n  [x] model verified"]),
        "a log shown": LogView(entries, "2 entries"),
    }
    for what, view in views.items():
        page = in_output_area(view._repr_html_())
        assert styled(_PANEL_CSS, page) == [], what

    # the check can fail: a rule like the checklist's old one would reach a magic's output
    step_page = in_output_area(views["a logged step"]._repr_html_())
    assert styled(".dlm-step{color:#888}", step_page) == [(".dlm-step", "<div.dlm-step>")]
    assert styled(".jp-OutputArea-output:has(>.dlm-step){opacity:.5}", step_page)

    # and the same rules do reach the panel's own elements
    log = log_with(tmp_path, entries)
    panel = panel_on(log)
    nodes = parse_html(panel_dom(panel))
    rules = selectors(_PANEL_CSS)

    def rules_for(node) -> list[str]:
        return [selector for selector in rules if matches(node, selector)]

    for cls in ("dlm-panel", "dlm-panel-body", "dlm-panel-head", "dlm-count-failed"):
        found = [node for node in nodes if cls in node.classes]
        assert found and all(rules_for(node) for node in found), cls
    steps = [node for node in nodes if node.attrs.get("data-step") is not None]
    assert len(steps) == len(DESIGN_STEPS)
    assert all(rules_for(node) for node in steps), "a checklist step the panel does not style"
    done = next(node for node in steps if node.attrs["data-done"] == "1")
    not_done = next(node for node in steps if node.attrs["data-done"] == "0")
    assert len(rules_for(done)) > len(rules_for(not_done))  # a ticked step looks ticked
    panel.close()
