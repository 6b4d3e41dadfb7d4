"""The live view of an execution, as the Step Functions console's graph view shows it: each state as it is
entered, succeeds, is caught or fails. ``heroku2aws watch`` (real AWS) and ``heroku2aws rehearse`` use it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from .executions import History


class LiveView:
    """What the console's graph view shows: each state as it is entered, succeeds or fails."""

    ICON = {"RUNNING": "[yellow]…[/]", "SUCCEEDED": "[green]✓[/]", "FAILED": "[red]✗[/]", "CAUGHT": "[magenta]↯[/]",
            "ABORTED": "[dim]⊘[/]"}

    def __init__(self, console) -> None:
        from rich.live import Live

        self.console = console
        self.live = Live(console=console, refresh_per_second=8, transient=False)
        self.started = time.monotonic()

    def __enter__(self):
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        self.live.__exit__(*exc)

    def elapsed(self, desc: dict) -> float:
        """Seconds since the execution started (its own clock when known: ``watch`` joins late)."""
        started = desc.get("startDate")
        if isinstance(started, datetime) and started.tzinfo is not None:
            stopped = desc.get("stopDate")
            end = stopped if isinstance(stopped, datetime) and stopped.tzinfo is not None else datetime.now(UTC)
            return max(0.0, (end - started).total_seconds())
        return time.monotonic() - self.started

    def update(self, hist: History, desc: dict) -> None:
        from rich.table import Table

        table = Table(title=f"{desc['name']} — {desc['status']} — {self.elapsed(desc):.1f}s",
                      title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("", width=2)
        table.add_column("state")
        table.add_column("seconds", justify="right")
        table.add_column("error")
        rows = hist.states[-40:]
        if len(hist.states) > 40:
            table.add_row("", f"[dim]… {len(hist.states) - 40} earlier states[/]", "", "")
        for s in rows:
            depth = sum(1 for _ in s.ancestors()) - 1  # states inside a Parallel branch or Map iteration
            note = s.error or ("cancelled with its branch" if s.status == "ABORTED" else "")
            if not note and s.retried:
                note = f"[dim]retried after {', '.join(s.retried)}[/]"
            table.add_row(self.ICON.get(s.status, s.status), "  " * depth + s.name, f"{s.seconds:.2f}", note)
        self.live.update(table)
