"""``python -m mngs.db``: the ``mngs-db`` command line."""

from .cli import main

if __name__ == "__main__":
    main()
