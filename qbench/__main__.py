"""Entry point for ``python -m qbench``."""

from qbench.cli import main

if __name__ == "__main__":
    main()
