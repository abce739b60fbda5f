"""An invoice's relations — line items, discounts, external costs — regenerated on demand from its plan."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from kanbert_async._generated.models import (
    AccountingLineItemType,
    ClientData,
    DiscountData,
    ExternalCostData,
    MetricData,
    OfferUnitIntervalType,
    OutgoingInvoiceLineItemData,
    ProjectData,
    SupplierData,
)

from .records import LineItemRecord, Plan
from .vocabulary import COST_TITLES, LINE_TITLES, SERVICES, TAX_RATES, money, new_id

__all__ = ["RelationFactory", "Totals"]


@dataclasses.dataclass(frozen=True, slots=True)
class Totals:
    """What a record's generated relations add up to."""

    net: float = 0.0
    tax: float = 0.0
    costs: float = 0.0


class RelationFactory:
    """Regenerates line items, discounts and external costs from a record's :class:`Plan`.

    Pure: the same plan and context always give equal lists.
    """

    def __init__(
        self,
        metrics: Sequence[MetricData],
        suppliers: Sequence[SupplierData],
        projects: Sequence[ProjectData],
    ) -> None:
        self._metrics = tuple(metrics)
        self._suppliers = tuple(suppliers)
        self._projects = tuple(projects)

    def line_items(
        self, plan: Plan, project: ProjectData | None, created_at: datetime
    ) -> list[LineItemRecord]:
        """The record's line items in document order."""
        if plan.lines == 0:
            return []
        rng = random.Random(f"{plan.key}:lines")
        items: list[LineItemRecord] = []
        # Long invoices get section headings and a page break, as real ones do.
        headed = plan.lines >= 3 and rng.random() < 0.5
        page_break_at = plan.lines // 2 if plan.lines >= 20 else -1
        for order in range(plan.lines):
            if (headed and order == 0) or (order > 0 and order % 25 == 0 and headed):
                kind = AccountingLineItemType.category
            elif order == page_break_at:
                kind = AccountingLineItemType.page_break
            else:
                kind = AccountingLineItemType.unit
            items.append(self._line_item(rng, plan, kind, order, headed, project, created_at))
        return items

    def _line_item(
        self,
        rng: random.Random,
        plan: Plan,
        kind: AccountingLineItemType,
        order: int,
        headed: bool,
        project: ProjectData | None,
        created_at: datetime,
    ) -> LineItemRecord:
        metric = rng.choice(self._metrics)
        title = rng.choice(LINE_TITLES)
        tax = rng.choice(TAX_RATES)
        interval_type = rng.choices(
            (OfferUnitIntervalType.once, OfferUnitIntervalType.monthly, OfferUnitIntervalType.yearly),
            (8, 3, 1),
        )[0]
        interval = None if interval_type is OfferUnitIntervalType.once else rng.choice((1, 3, 6))
        item_project = (
            project if rng.random() < 0.9 else (rng.choice(self._projects) if self._projects else None)
        )
        if kind is AccountingLineItemType.unit:
            price = money(
                plan.sign * rng.choice((45.0, 65.0, 85.0, 95.0, 120.0, 150.0, 900.0)) * rng.uniform(0.8, 1.5)
            )
            amount = rng.choice((0.25, 0.5, 1.0, 1.0, 2.0, 3.0, 4.5, 8.0, 10.0, 16.0, 40.0))
            discount_factor = rng.choice((None, None, None, None, 5.0, 10.0))
            discount_absolute = (
                money(plan.sign * rng.choice((5.0, 10.0, 25.0))) if rng.random() < 0.05 else None
            )
            discount_bound = rng.random() < 0.3
            purchase_price = money(price * rng.uniform(0.2, 0.7))
        else:
            price = amount = purchase_price = 0.0
            discount_factor = discount_absolute = None
            discount_bound = False
            title = f"Section: {rng.choice(SERVICES)}" if kind is AccountingLineItemType.category else "—"
        factor = 1.0 if plan.partial_factor is None else plan.partial_factor / 100
        base = money(price * amount)
        without_discount = money(base * factor)
        net = without_discount
        if discount_factor is not None:
            net = money(net * (1 - discount_factor / 100))
        if discount_absolute is not None:
            net = money(net - discount_absolute * (amount if discount_bound else 1))
        purchase_amount = amount
        model = OutgoingInvoiceLineItemData(
            id=new_id(rng),
            title=title,
            type=kind,
            indent=1 if headed and kind is AccountingLineItemType.unit else 0,
            order=order,
            price=price,
            amount=amount,
            total_net_base=base,
            total_net_without_discount=without_discount,
            total_net=net,
            total_gross_base=money(base * (1 + tax / 100)),
            total_gross_without_discount=money(without_discount * (1 + tax / 100)),
            total_gross=money(net * (1 + tax / 100)),
            tax_factor=tax,
            metric=metric,
            project=item_project,
            partial_factor=None if plan.partial_factor is None else round(plan.partial_factor),
            exclude_from_discount=rng.random() < 0.1,
            discount_factor=discount_factor,
            discount_absolute=discount_absolute,
            discount_bound=discount_bound,
            purchase_price=purchase_price,
            purchase_amount=purchase_amount,
            purchase_total_base=money(purchase_price * purchase_amount),
            purchase_total=money(purchase_price * purchase_amount * factor),
            purchase_price_bound=rng.random() < 0.8,
            description=f"{title} ({metric.title_plural.lower()})"
            if kind is AccountingLineItemType.unit
            else "",
            payment_partial_type=interval_type,
            payment_partial_interval=interval,
        )
        created = created_at + timedelta(seconds=order)
        updated = created + timedelta(hours=rng.randint(1, 400)) if rng.random() < 0.3 else None
        return LineItemRecord(model, created, updated)

    def discounts(self, plan: Plan) -> list[DiscountData]:
        """The record's discounts in the order they are applied."""
        rng = random.Random(f"{plan.key}:discounts")
        out: list[DiscountData] = []
        for order in range(plan.discounts):
            absolute = rng.random() < 0.3
            out.append(
                DiscountData(
                    id=new_id(rng),
                    title=rng.choice(("Loyalty discount", "Early bird", "Volume discount", "Goodwill")),
                    discount_factor=None if absolute else rng.choice((2.0, 3.0, 5.0, 10.0)),
                    discount_absolute=money(plan.sign * rng.choice((50.0, 100.0, 250.0)))
                    if absolute
                    else None,
                    from_parent=rng.random() < 0.2,
                    is_payment_discount=rng.random() < 0.15,
                    order=order,
                )
            )
        return out

    def external_costs(
        self, plan: Plan, client: ClientData | None, project: ProjectData | None, created_at: datetime
    ) -> list[ExternalCostData]:
        """The record's external costs (none for partial invoices: those belong to the master)."""
        rng = random.Random(f"{plan.key}:costs")
        out: list[ExternalCostData] = []
        for order in range(plan.costs):
            price = money(plan.sign * rng.uniform(10, 800))
            amount = rng.choice((1.0, 1.0, 2.0, 5.0, 10.0))
            interval_type = rng.choices(
                (OfferUnitIntervalType.once, OfferUnitIntervalType.monthly, OfferUnitIntervalType.yearly),
                (6, 2, 1),
            )[0]
            supplier = rng.choice(self._suppliers) if rng.random() < 0.85 else None
            out.append(
                ExternalCostData(
                    id=new_id(rng),
                    title=rng.choice(COST_TITLES),
                    type=rng.choice(("cost", "expense", "license")),
                    indent=0,
                    order=order,
                    is_credit=plan.sign < 0,
                    is_optional=rng.random() < 0.1,
                    price=price,
                    amount=amount,
                    total=money(price * amount),
                    supplier=supplier,
                    client=client,
                    project=project,
                    status=rng.choice((None, "open", "billed")),
                    payment_partial_type=interval_type,
                    payment_partial_interval=None
                    if interval_type is OfferUnitIntervalType.once
                    else rng.choice((1, 3, 6)),
                    created_at=created_at + timedelta(minutes=order),
                    updated_at=None
                    if rng.random() < 0.5
                    else created_at + timedelta(days=rng.randint(1, 30)),
                )
            )
        return out

    def totals(
        self, plan: Plan, client: ClientData | None, project: ProjectData | None, created_at: datetime
    ) -> Totals:
        """The sums a record shows, computed from the relations it will serve."""
        items = [li.model for li in self.line_items(plan, project, created_at)]
        net = sum(i.total_net for i in items)
        tax = sum(i.total_gross - i.total_net for i in items)
        eligible = sum(i.total_net for i in items if not i.exclude_from_discount)
        discounted = net
        for discount in self.discounts(plan):
            if discount.discount_factor is not None:
                discounted -= eligible * discount.discount_factor / 100
            if discount.discount_absolute is not None:
                discounted -= discount.discount_absolute
        ratio = discounted / net if net else 1.0
        costs = sum(c.total for c in self.external_costs(plan, client, project, created_at))
        return Totals(net=money(discounted), tax=money(tax * ratio), costs=money(costs))
