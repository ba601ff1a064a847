"""Mock servers as detached local processes: start, stop, list and discover them.

State lives in the registry (`MOCKLOOP_HOME/registry.db`); each server's output goes to
`MOCKLOOP_HOME/servers/ID.log`.
"""

from mockloop.servers.discovery import DEFAULT_SCAN_PORTS, discover_servers
from mockloop.servers.lifecycle import (
    list_servers,
    project_server,
    start_server,
    stop_all_servers,
    stop_server,
)
from mockloop.servers.models import (
    DiscoveredServer,
    Discovery,
    GeneratedProjectInfo,
    ServerInfo,
    ServerStatus,
)

__all__ = [
    "DEFAULT_SCAN_PORTS",
    "DiscoveredServer",
    "Discovery",
    "GeneratedProjectInfo",
    "ServerInfo",
    "ServerStatus",
    "discover_servers",
    "list_servers",
    "project_server",
    "start_server",
    "stop_all_servers",
    "stop_server",
]
