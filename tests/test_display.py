from datetime import datetime

from designlog_magics.display import LogView, StepView, entry_card_html, output_html
from designlog_magics.entry import Entry
from designlog_magics.textformat import parse

EVIL = "<img src=x onerror=alert(1)>.json"
ENTRY = Entry(
    datetime(2025, 10, 22, 14, 23, 15),
    "VERIFY_DATASET",
    f"Checking {EVIL}",
    (("Command", f"ls -lh {EVIL}"), ("Result", "File exists, 655K")),
)


def test_cards_escape_every_piece_of_text():
    html = entry_card_html(ENTRY)
    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;.json") == 2
    assert 'data-action="VERIFY_DATASET"' in html


def test_failures_and_warnings_stand_out():
    failed = Entry(ENTRY.timestamp, "VERIFY_MODEL", "x", (("Error", "No such file"),))
    warned = Entry(ENTRY.timestamp, "CHECK_DISK", "x", (("Warning", "only 3G"),))
    assert "dlm-failed" in entry_card_html(failed)
    assert "dlm-warned" in entry_card_html(warned)


def test_output_is_truncated_with_the_count_of_hidden_lines():
    text = "\n".join(f"line {i}" for i in range(1000))
    html = output_html(text, max_lines=40)
    assert "960 more lines hidden" in html
    assert "line 0\n" in html and "line 999" in html and "line 500\n" not in html


def test_step_view_has_static_html_markdown_and_plain_text():
    view = StepView(entry=ENTRY, outputs=[(f"ls {EVIL}", f"{EVIL}\n", "")], notes=["note"])
    assert "<img" not in view._repr_html_()
    assert "<script" not in view._repr_html_()
    markdown = view._repr_markdown_()
    assert "```text\n[2025-10-22 14:23:15] VERIFY_DATASET" in markdown
    plain = repr(view)
    assert parse(plain[plain.index("[2025") :] + "\n").entries == [ENTRY]


def test_log_view_renders_all_entries():
    view = LogView([ENTRY, ENTRY], "title")
    assert view._repr_html_().count('<div class="dlm-card ') == 2
    assert parse(repr(view).split("\n\n", 1)[1]).entries == [ENTRY, ENTRY]
