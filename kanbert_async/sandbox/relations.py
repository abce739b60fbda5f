"""An invoice's relations — line items, discounts, external costs — regenerated on demand from its plan."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

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
from .vocabulary import COST_TITLES, LINE_TITLES, SERVICES, TAX_RATES, money, new_id, uuid_from_bits

__all__ = ["RelationFactory", "Totals"]


class _Line(NamedTuple):
    """What one line item drew from its record's random sequence, and the amounts that follow."""

    kind: AccountingLineItemType
    order: int
    headed: bool
    metric: MetricData
    title: str
    tax: float
    interval_type: OfferUnitIntervalType
    interval: int | None
    project: ProjectData | None
    price: float
    amount: float
    discount_factor: float | None
    discount_absolute: float | None
    discount_bound: bool
    purchase_price: float
    factor: float
    base: float
    without_discount: float
    net: float
    gross: float
    id_bits: int
    excluded: bool
    purchase_price_bound: bool
    updated_after: int | None


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
        return [self._line_item(plan, line, created_at) for line in self._lines(plan, project)]

    def _lines(self, plan: Plan, project: ProjectData | None) -> Iterator[_Line]:
        """What each line item draws, in document order: the one random sequence both
        :meth:`line_items` and :meth:`totals` read (totals needs no models, which are most of the cost)."""
        if plan.lines == 0:
            return
        rng = random.Random(f"{plan.key}:lines")
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
            yield self._draw(rng, plan, kind, order, headed, project)

    def _draw(
        self,
        rng: random.Random,
        plan: Plan,
        kind: AccountingLineItemType,
        order: int,
        headed: bool,
        project: ProjectData | None,
    ) -> _Line:
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
        gross = money(net * (1 + tax / 100))
        id_bits = rng.getrandbits(128)
        excluded = rng.random() < 0.1
        purchase_price_bound = rng.random() < 0.8
        updated_after = rng.randint(1, 400) if rng.random() < 0.3 else None
        return _Line(
            kind, order, headed, metric, title, tax, interval_type, interval, item_project, price, amount,
            discount_factor, discount_absolute, discount_bound, purchase_price, factor, base,
            without_discount, net, gross, id_bits, excluded, purchase_price_bound, updated_after,
        )  # fmt: skip

    @staticmethod
    def _line_item(plan: Plan, line: _Line, created_at: datetime) -> LineItemRecord:
        kind, tax, price, amount = line.kind, line.tax, line.price, line.amount
        model = OutgoingInvoiceLineItemData(
            id=uuid_from_bits(line.id_bits),
            title=line.title,
            type=kind,
            indent=1 if line.headed and kind is AccountingLineItemType.unit else 0,
            order=line.order,
            price=price,
            amount=amount,
            total_net_base=line.base,
            total_net_without_discount=line.without_discount,
            total_net=line.net,
            total_gross_base=money(line.base * (1 + tax / 100)),
            total_gross_without_discount=money(line.without_discount * (1 + tax / 100)),
            total_gross=line.gross,
            tax_factor=tax,
            metric=line.metric,
            project=line.project,
            partial_factor=None if plan.partial_factor is None else round(plan.partial_factor),
            exclude_from_discount=line.excluded,
            discount_factor=line.discount_factor,
            discount_absolute=line.discount_absolute,
            discount_bound=line.discount_bound,
            purchase_price=line.purchase_price,
            purchase_amount=amount,
            purchase_total_base=money(line.purchase_price * amount),
            purchase_total=money(line.purchase_price * amount * line.factor),
            purchase_price_bound=line.purchase_price_bound,
            description=f"{line.title} ({line.metric.title_plural.lower()})"
            if kind is AccountingLineItemType.unit
            else "",
            payment_partial_type=line.interval_type,
            payment_partial_interval=line.interval,
        )
        created = created_at + timedelta(seconds=line.order)
        updated = None if line.updated_after is None else created + timedelta(hours=line.updated_after)
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
        lines = list(self._lines(plan, project))
        net = sum(line.net for line in lines)
        tax = sum(line.gross - line.net for line in lines)
        eligible = sum(line.net for line in lines if not line.excluded)
        discounted = net
        for discount in self.discounts(plan):
            if discount.discount_factor is not None:
                discounted -= eligible * discount.discount_factor / 100
            if discount.discount_absolute is not None:
                discounted -= discount.discount_absolute
        ratio = discounted / net if net else 1.0
        costs = sum(c.total for c in self.external_costs(plan, client, project, created_at))
        return Totals(net=money(discounted), tax=money(tax * ratio), costs=money(costs))
