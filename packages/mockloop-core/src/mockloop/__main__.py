"""`python -m mockloop`: the `mockloop` command (how detached servers are started)."""

from mockloop.cli import main

raise SystemExit(main())
