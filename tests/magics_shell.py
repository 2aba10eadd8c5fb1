"""A real IPython shell for the magics' tests, with errors surfaced (jupysql's pattern)."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell


class TestingShell(InteractiveShell):
    """An ``InteractiveShell`` whose ``run_cell`` raises what the cell raised."""

    def run_cell(self, *args, **kwargs):  # type: ignore[override]
        result = super().run_cell(*args, **kwargs)
        result.raise_error()
        return result
