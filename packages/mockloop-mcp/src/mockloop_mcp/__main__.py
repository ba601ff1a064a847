"""`mockloop-mcp` / `python -m mockloop_mcp` entry point."""

import argparse
import sys

from mockloop_mcp import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mockloop-mcp", description="MockLoop MCP server.")
    parser.add_argument("--version", action="version", version=f"mockloop-mcp {__version__}")
    parser.parse_args(argv)
    print("mockloop-mcp: the MCP server is not available in this release yet.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
