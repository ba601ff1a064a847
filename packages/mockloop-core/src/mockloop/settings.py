"""Where MockLoop keeps its state, from `MOCKLOOP_*` environment variables or defaults."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["mockloop_home"]


def mockloop_home() -> Path:
    """The folder for MockLoop's state: `MOCKLOOP_HOME`, else the user data folder.

    Never the current folder or site-packages. Created on first use.
    """
    configured = os.environ.get("MOCKLOOP_HOME")
    home = (
        Path(configured).expanduser()
        if configured
        else Path(platformdirs.user_data_dir("mockloop"))
    )
    home.mkdir(parents=True, exist_ok=True)
    return home
