"""The blocking client, for scripts, notebooks and Airflow tasks: the async core on a private loop thread.

Example::

    from kanbert_async.sync import KanbertClient

    with KanbertClient() as kb:                  # KANBERT_API_TOKEN, KANBERT_BASE_URL from the environment
        invoice = kb.outgoing_invoices.get("inv_123")
        for inv in kb.outgoing_invoices.list(page_size=100):      # pages fetched ahead meanwhile
            print(inv.invoice_number)
        kb.outgoing_invoices.download_pdf(invoice.id).save("invoice.pdf")

Models, errors, filters and options are the async client's: import them from ``kanbert_async``.
"""

from __future__ import annotations

from ._sync.client import KanbertClient
from ._sync.download import SyncBinaryResponse
from ._sync.pager import SyncPage, SyncPager, SyncScan

__all__ = ["KanbertClient", "SyncBinaryResponse", "SyncPage", "SyncPager", "SyncScan"]
