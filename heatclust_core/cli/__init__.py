"""Command line: `python -m heatclust_core train|detect|remediate|scan|embed|sweep|report|example`.

Results go to stdout (a table, or JSON with --json); progress bars and errors go to stderr.
A bad parameter exits with status 2 and one line naming it, before anything is written.
`arguments` derives the flags from the config fields, `commands` runs each command,
`printing` shows its result, `sweep` is the sweep command's own flags and run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from heatclust_core.cli import commands, printing
from heatclust_core.cli.arguments import build_parser, flag_for
from heatclust_core.cli.progress import TqdmProgress
from heatclust_core.cli.sweep import print_sweep, sweep_command
from heatclust_core.errors import ConfigError, DatasetError, HeatClustError, RunNotFoundError

__all__ = ["build_parser", "main"]

# command -> (run it: args, progress -> JSON-able result; print that result for a person)
COMMANDS = {
    "train": (commands.train_command, printing.print_train),
    "detect": (commands.detect_command, printing.print_detect),
    "remediate": (commands.remediate_command, printing.print_remediate),
    "scan": (commands.scan_command, printing.print_scan),
    "embed": (commands.embed_command, printing.print_embed),
    "sweep": (sweep_command, print_sweep),
    "report": (commands.report_command, printing.print_report),
    "example": (commands.example_command, printing.print_example),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = TqdmProgress(enabled=not args.quiet)
    run, show = COMMANDS[args.command]
    try:
        result = run(args, progress)
    except HeatClustError as exc:
        progress.close()
        line, status = _error_line(exc)
        print(f"error: {line}", file=sys.stderr)
        return status
    progress.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)
    return 1 if result.get("problems") else 0


def _error_line(exc: HeatClustError) -> tuple[str, int]:
    """What stderr says of a library error, and the exit status: 2 where the user can fix a
    value they gave (naming its flag), 1 otherwise."""
    if isinstance(exc, ConfigError):
        return f"{flag_for(exc.parameter)}: {exc.message}", 2
    if isinstance(exc, DatasetError):
        return f"--data-dir: {exc}", 2
    if isinstance(exc, RunNotFoundError):
        return f"--run: {exc}", 2
    return str(exc), 1
