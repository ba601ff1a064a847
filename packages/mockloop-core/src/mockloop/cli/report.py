"""`mockloop report RUN_ID ...`: a report of stored runs as HTML, Markdown, JUnit XML or JSON.

Exit status 0 when the report is written (whatever the runs' verdicts), 2 on bad input such as
an unknown run id, or an existing `--output` file without `--overwrite`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

__all__ = ["add_report_command"]


def _report(args: argparse.Namespace) -> int:
    from mockloop.client import AsyncMockLoopClient

    async def go() -> Any:
        async with AsyncMockLoopClient() as client:
            return await client.generate_test_report(
                run_ids=list(args.run_ids),
                output_format=args.format,
                report_format=args.report_format,
                include_charts=not args.no_charts,
                output_path=args.output,
                title=args.title,
                overwrite=args.overwrite,
            )

    result = asyncio.run(go())
    if result.path is None:
        sys.stdout.write(result.content)
    else:
        print(result.summary(), file=sys.stderr)
    return 0


def add_report_command(commands: Any) -> None:
    """Add `mockloop report` to the CLI's subcommands."""
    report = commands.add_parser(
        "report",
        help="write a report of stored test runs (HTML, Markdown, JUnit XML, JSON)",
        description="Report stored runs (load runs, test plans, iterations, security tests in "
        "MOCKLOOP_HOME) by their ids. Exit status 0 when written, 2 on an unknown run id or "
        "other bad input.",
    )
    report.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="the runs to report")
    report.add_argument(
        "--format",
        choices=["html", "markdown", "junit", "json"],
        default="html",
        help="output format (default html)",
    )
    report.add_argument(
        "-o", "--output", metavar="FILE", default=None, help="write to FILE (default: stdout)"
    )
    report.add_argument(
        "--overwrite",
        "--force",
        action="store_true",
        help="replace FILE when it exists (default: refuse, exit 2)",
    )
    report.add_argument(
        "--report-format",
        choices=["comprehensive", "summary", "executive"],
        default="comprehensive",
        help="how much to include (default comprehensive)",
    )
    report.add_argument("--no-charts", action="store_true", help="leave the charts out")
    report.add_argument("--title", default=None, help="the report's title")
    report.set_defaults(handler=_report)
