"""Standalone mock projects: `generate_project` writes one, `load_project_config` reads its
`mockloop.yaml` back, and the project's own `main.py` uses the rest."""

from mockloop.generate.config import (
    CONFIG_FILE,
    announce_ready,
    load_project_config,
    with_overrides,
)
from mockloop.generate.project import GeneratedProject, generate_project, projects_dir

__all__ = [
    "CONFIG_FILE",
    "GeneratedProject",
    "announce_ready",
    "generate_project",
    "load_project_config",
    "projects_dir",
    "with_overrides",
]
