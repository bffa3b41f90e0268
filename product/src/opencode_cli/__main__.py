from opencode_cli.cli import main

raise SystemExit(main())
