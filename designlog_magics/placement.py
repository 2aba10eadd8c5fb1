"""Where the live panel can go: one list, for the panel and for ``%designlog start --panel``.

Plain Python (no ipywidgets, no sidecar), so that the magics can check a placement, and a
configuration can be refused, without building anything. Names are matched whatever their
case, as sidecar's own ``anchor`` trait matches its anchors.
"""

from __future__ import annotations

# placement -> the sidecar anchor it opens at (Lab's left sidebar takes no widgets: "left"
# opens beside the notebook, on the left)
SIDE_ANCHORS: dict[str, str] = {
    "split-right": "split-right",
    "right": "right",
    "left": "split-left",
    "split-left": "split-left",
    "split-bottom": "split-bottom",
    "split-top": "split-top",
    "tab": "tab-after",
    "tab-after": "tab-after",
    "tab-before": "tab-before",
}
INLINE = "inline"
PANEL_PLACEMENTS: tuple[str, ...] = (*SIDE_ANCHORS, INLINE)
NO_PANEL = "none"  # %designlog start --panel none: no panel (not a placement)
START_CHOICES: tuple[str, ...] = (*PANEL_PLACEMENTS, NO_PANEL)
DEFAULT_PLACEMENT = "split-right"


def find_placement(name: str, choices: tuple[str, ...] = PANEL_PLACEMENTS) -> str | None:
    """The placement among ``choices`` that ``name`` spells, ignoring case; None if none."""
    if not isinstance(name, str):
        return None
    wanted = name.strip().lower()
    return next((choice for choice in choices if choice == wanted), None)


def placement_error(name: object, choices: tuple[str, ...] = PANEL_PLACEMENTS) -> str:
    """One line saying ``name`` is no placement, and what is."""
    return f"unknown panel placement {name!r}: use one of " + ", ".join(choices)
