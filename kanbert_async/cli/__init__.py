"""The ``kanbert-async`` command: ``export``, ``sandbox`` and ``demo``.

Every failure ends as one line on stderr and a non-zero exit: 2 for bad input (options, filters,
tokens, directories), 1 for failures of the API or the network, 130 when interrupted. No traceback
reaches the user, and messages speak of the command's flags, not of the SDK's arguments.

``app`` runs a command line; ``parser`` holds the grammar and help texts, ``options`` the option
types and defaults, ``messages`` the failures in the command's words, ``export_command`` the
export, ``logs`` how the SDK's log lines reach stderr.
"""

from .app import main

__all__ = ["main"]
