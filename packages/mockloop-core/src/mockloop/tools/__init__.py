"""What the agent faces (MCP, LangChain, CrewAI) share, so each of them is a loop over the catalog.

- `selection`: which operations a face exposes (by name, group, role, tag, read-only flag);
  a role's tools are the operations marked with that role.
- `calls`: runs catalog operations for a framework's tools, blocking or async, on one client,
  and renders their results as the text an agent reads.
- `errors`: the text an agent reads when a call fails (the same on every face, redacted).
- `plugins`: the one provider of plugin API tools (list, describe, call) for every face.

Nothing here imports an agent framework.
"""
