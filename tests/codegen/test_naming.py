"""How operations are named: resources from tags, methods from Laravel's actions, word boundaries
recovered from the path and summary when Scramble's operationIds are lower-cased."""

from __future__ import annotations

import pytest

from codegen.naming import action_words, method_name, operation_names, resource_name, vocabulary


@pytest.mark.parametrize(
    ("tags", "operation_id", "expected"),
    [
        (["Incoming Invoices"], "incominginvoices.index", "incoming_invoices"),
        (["Chart of Accounts"], "chartofaccounts.index", "chart_of_accounts"),
        (["Outgoing Invoice Masters"], "outgoingInvoiceMasters.show", "outgoing_invoice_masters"),
        ([], "taskComments.store", "task_comments"),
        (["Stats"], "stats.index", "stats_"),
    ],
)
def test_a_resource_is_named_from_its_first_tag(tags: list[str], operation_id: str, expected: str) -> None:
    assert resource_name(tags, operation_id) == expected


@pytest.mark.parametrize(
    ("path", "summary", "operation_id", "expected"),
    [
        ("/incoming-invoices/{invoiceId}/bookings/{bookingId}", "Update a booking",
         "incominginvoices.updatebooking", "update_booking"),
        ("/outgoing-invoices/external", "Upload an external invoice", "outgoinginvoices.createexternal",
         "create_external"),
        ("/outgoing-invoices/{id}/line-items", "", "outgoingInvoices.lineItems", "line_items"),
        ("/invoices/{id}/paid", "Mark as paid", "invoices.markaspaid", "mark_as_paid"),
        ("/assets", "", "things.assets", "assets"),
    ],
)  # fmt: skip
def test_lower_cased_actions_get_their_word_boundaries_back(
    path: str, summary: str, operation_id: str, expected: str
) -> None:
    operation = {"operationId": operation_id, "summary": summary, "tags": []}
    assert operation_names(path, operation)[1] == expected


def test_a_run_the_vocabulary_does_not_cover_whole_stays_one_word() -> None:
    assert action_words("frobnicateinvoice", vocabulary("/invoices")) == "frobnicateinvoice"


@pytest.mark.parametrize(
    ("action", "resource", "paginated", "binary", "expected"),
    [
        ("index", "clients", True, False, "list"),
        ("show", "clients", False, False, "get"),
        ("store", "clients", False, False, "create"),
        ("update", "clients", False, False, "update"),
        ("destroy", "clients", False, False, "delete"),
        ("delete", "tasks", False, False, "delete"),
        ("comments", "task_comments", True, False, "list"),
        ("line_items", "outgoing_invoices", True, False, "list_line_items"),
        ("pdf", "outgoing_invoices", False, True, "download_pdf"),
    ],
)
def test_laravel_actions_read_as_python_verbs(
    action: str, resource: str, paginated: bool, binary: bool, expected: str
) -> None:
    assert method_name(action, resource=resource, paginated=paginated, binary=binary) == expected
