"""`python -m mockloop.cli`: the `mockloop` command."""

from mockloop.cli.main import main

raise SystemExit(main())
