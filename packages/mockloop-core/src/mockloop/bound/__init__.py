"""The blocking client's operations as bound operations: plain callables that are also tools.

- `operation`: `BlockingOperation`, the descriptor every generated `MockLoopClient` method is,
  and `BoundOperation`, what it gives on an instance: called, it is the method (same
  signature, same result); handed to an agent framework, it carries what tool validation looks
  for (`name`, `description`, `args_schema`, `func`).
- `text`: what an agent reads of a result, or of a failed call (the same on every face).

It sits below `mockloop._sync_client` (which is built of it) and above `mockloop.operation`;
nothing here imports an agent framework.
"""
