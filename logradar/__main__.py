"""``python -m logradar``: the same as the ``logradar`` command."""

from logradar.cli import main

if __name__ == "__main__":
    main()
