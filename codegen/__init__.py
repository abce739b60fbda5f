"""Build-time code generator: ``openapi/`` in, ``kanbert_async/_generated/`` out. Never imported at runtime.

``python -m codegen`` (see :mod:`codegen.__main__`) regenerates; importing this package writes
nothing (on a tree without generated code, :mod:`codegen.skeleton` is written by ``main()``).
"""
