"""`--watch`: a running mock reloads its description and scenarios file when they change."""

from mockloop.mock.watch.watcher import DescriptionWatch

__all__ = ["DescriptionWatch"]
