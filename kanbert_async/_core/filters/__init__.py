"""Filters: one tree (:mod:`.tree`), built by :mod:`.builder`, written for the wire by :mod:`.encode`.

:mod:`.operators` holds the operator vocabulary every part shares; :mod:`.computed` the
computed-field declarations whose ``where`` is a filter. The public face is
:mod:`kanbert_async.filters`.
"""
