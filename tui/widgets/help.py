"""The help screen (``?`` or F1): every key and every slash command, each with what it does.

Built from the same tables the app acts on (its bindings, ``commands.SLASH``), so it cannot list a
key that does nothing or miss one that does something.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def help_table(keys: Iterable[tuple[str, str]], commands: Iterable[tuple[str, str]], plain: tuple[str, str]) -> Table:
    """Two columns: the keys, then the slash commands, then what plain text does."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True, style="bold")
    table.add_column(ratio=1)
    for heading, rows in (("Keys", keys), ("Typed on the input line", [*commands, plain])):
        table.add_row(Text(heading, style="bold underline"), "")
        for key, what in rows:
            table.add_row(Text(key), Text(what))  # Text: "[bar]" is what to type, not markup
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    """The help, over the app; any of esc, q, ? or F1 closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "close the help")]

    def __init__(self, table: Table) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self.table, id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "help — esc closes"
