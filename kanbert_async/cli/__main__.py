"""``python -m kanbert_async.cli``: the ``kanbert-async`` command."""

from .app import main

if __name__ == "__main__":
    raise SystemExit(main())
