"""The `mockloop` command: `main` parses and runs one command line.

`cli.main` holds the parser and `serve`; the other commands live beside it (`servers`, `load`,
`report`) and add their sub-parsers to it.
"""

from __future__ import annotations

from mockloop.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
