"""``python -m salessim``: the same command-line interface as ``salessim``."""

from salessim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
