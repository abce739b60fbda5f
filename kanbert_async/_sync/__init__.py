"""The blocking client's machinery: one private event-loop thread that runs the async core.

Nothing here reimplements a request: every blocking call hands a coroutine of the async client to
the loop thread (:mod:`.portal`) and waits for it; pagers hand over one page at a time
(:mod:`.pager`). The public face is :mod:`kanbert_async.sync`.
"""
