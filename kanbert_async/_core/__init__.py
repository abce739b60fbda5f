"""The hand-written core: transport, auth, retries, rate limiting, pagination, filters, errors.

It imports nothing from the rest of ``kanbert_async`` (tests/test_imports.py checks): generated
code and the client build on it, never the other way round.
"""
