"""The audit's rules on records built by hand: a consistent run passes, and each way a payment's
story can stop adding up is named."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payctl.audit import check
from payctl.audit_records import Records
from payctl.topic_scan import DeadLetter, Window
from payment_events.events import CapturedLine, PaymentCaptured


def new_records() -> Records:
    return Records(bff={})


def _id() -> str:
    return str(uuid.uuid4())


def _events(records: Records, payment_id: str, *names: str) -> None:
    for name in names:
        records.scan.events[payment_id][name].add(_id())


def _authorized(records: Records, amounts: list[int], status: str) -> tuple[str, str]:
    payment_id, authorization_id = _id(), f"auth_{_id()}"
    total = sum(amounts)
    records.bff[payment_id] = {
        "payment_id": payment_id,
        "status": status,
        "amount_minor": total,
        "lines": [{"line_no": n, "amount_minor": a} for n, a in enumerate(amounts)],
        "authorized_minor": 0 if status == "DECLINED" else total,
        "captured_minor": 0,
        "refunded_minor": 0,
        "order_id": None,
    }
    records.operations.append(
        {
            "id": authorization_id,
            "kind": "authorization",
            "reference": payment_id,
            "authorization_id": authorization_id,
            "amount_minor": total,
            "status": "declined" if status == "DECLINED" else "authorized",
        }
    )
    return payment_id, authorization_id


def captured(records: Records, amounts: list[int] | None = None) -> str:
    amounts = amounts or [700, 300]
    payment_id, authorization_id = _authorized(records, amounts, "CAPTURED")
    order_id = f"ord_{_id()}"
    records.bff[payment_id].update(captured_minor=sum(amounts), order_id=order_id)
    records.billing[payment_id] = {"status": "AUTHORIZED"}
    records.orders[payment_id] = {"order_id": order_id, "status": "CONFIRMED"}
    records.capture[payment_id] = {
        "status": "CAPTURED",
        "captured_minor": sum(amounts),
        "refunded_minor": 0,
    }
    lines = []
    for n, amount in enumerate(amounts):
        payment_order_id, capture_id = f"po_{_id()}", f"cap_{_id()}"
        records.payment_orders[payment_id].append(
            {"payment_order_id": payment_order_id, "status": "CAPTURED", "capture_id": capture_id}
        )
        records.operations.append(_capture(capture_id, payment_order_id, authorization_id, amount))
        lines.append(
            CapturedLine(
                payment_order_id=payment_order_id,
                line_no=n,
                seller_id=f"seller_{n}",
                amount_minor=amount,
                capture_id=capture_id,
            )
        )
    _events(records, payment_id, "PaymentInitiated", "PaymentSucceeded", "OrderConfirmed")
    event = PaymentCaptured(
        payment_id=payment_id,
        order_id=order_id,
        currency="EUR",
        amount_minor=sum(amounts),
        lines=tuple(lines),
    )
    records.scan.events[payment_id]["PaymentCaptured"].add(event.event_id)
    records.scan.payloads[payment_id].append(event)
    return payment_id


def _capture(capture_id: str, reference: str, authorization_id: str, amount: int) -> dict[str, Any]:
    return {
        "id": capture_id,
        "kind": "capture",
        "reference": reference,
        "authorization_id": authorization_id,
        "amount_minor": amount,
        "status": "succeeded",
    }


def declined(records: Records) -> str:
    payment_id, _ = _authorized(records, [500], "DECLINED")
    records.billing[payment_id] = {"status": "DECLINED"}
    _events(records, payment_id, "PaymentInitiated", "PaymentFailed")
    return payment_id


def refused(records: Records) -> str:
    payment_id, authorization_id = _authorized(records, [500, 200], "FAILED")
    records.billing[payment_id] = {"status": "VOIDED"}
    records.orders[payment_id] = {"order_id": f"ord_{_id()}", "status": "REFUSED"}
    records.operations.append(
        {
            "id": f"void_{_id()}",
            "kind": "void",
            "reference": payment_id,
            "authorization_id": authorization_id,
            "amount_minor": None,
            "status": "succeeded",
        }
    )
    _events(
        records, payment_id, "PaymentInitiated", "PaymentSucceeded", "OrderFailed", "PaymentVoided"
    )
    return payment_id


def details(records: Records, expected: dict[str, str] | None = None) -> list[str]:
    return [f"{v.check}: {v.detail}" for v in check(records, expected).violations]


def test_a_run_whose_every_story_adds_up_passes() -> None:
    records = new_records()
    ids = {captured(records): "CAPTURED", declined(records): "DECLINED", refused(records): "FAILED"}

    report = check(records, ids)

    assert report.violations == []
    assert report.statuses == {"CAPTURED": 1, "DECLINED": 1, "FAILED": 1}


def test_a_payment_order_captured_twice_is_named() -> None:
    records = new_records()
    payment_id = captured(records, [1000])
    [first] = [op for op in records.operations if op["kind"] == "capture"]
    records.operations.append({**first, "id": f"cap_{_id()}"})

    found = details(records)

    assert f"provider: payment order {first['reference']} captured 2 times" in found
    assert any("captured 2000 at the provider" in d for d in found), found
    assert payment_id in {v.payment_id for v in check(records).violations}


def test_a_second_authorization_is_named() -> None:
    records = new_records()
    payment_id = declined(records)
    [authorization] = [op for op in records.operations if op["reference"] == payment_id]
    records.operations.append({**authorization, "id": f"auth_{_id()}"})

    assert "provider: 2 authorizations, expected exactly 1" in details(records)


def test_a_refused_order_left_unvoided_is_named() -> None:
    records = new_records()
    refused(records)
    records.operations = [op for op in records.operations if op["kind"] != "void"]

    assert "provider: 0 voids, expected 1" in details(records)


def test_an_event_handled_twice_is_named_but_a_republished_copy_is_not() -> None:
    records = new_records()
    payment_id = captured(records)
    records.scan.copies = 3  # the same event ids again: the relay published twice, allowed
    assert details(records) == []

    _events(records, payment_id, "PaymentSucceeded")

    assert details(records) == [
        "events: PaymentSucceeded published under 2 event ids: handled more than once"
    ]


def test_a_missing_link_of_the_chain_is_named() -> None:
    records = new_records()
    payment_id = refused(records)
    del records.scan.events[payment_id]["PaymentVoided"]

    assert details(records) == ["events: no PaymentVoided on its topic"]


def test_a_service_that_disagrees_with_the_bff_is_named() -> None:
    records = new_records()
    payment_id = captured(records)
    records.capture[payment_id]["status"] = "CAPTURE_PENDING"
    del records.orders[payment_id]

    assert details(records) == [
        "agreement: BFF CAPTURED, but orders' order is None, expected CONFIRMED",
        "agreement: BFF CAPTURED, but capture's payment is CAPTURE_PENDING, expected CAPTURED",
    ]


@pytest.mark.parametrize("status", ["PROCESSING", "AUTHORIZED", "ORDER_CONFIRMED"])
def test_a_payment_still_in_flight_is_named_with_where_it_stopped(status: str) -> None:
    records = new_records()
    payment_id = captured(records)
    records.bff[payment_id]["status"] = status

    [found] = details(records)

    assert found.startswith(f"settled: still {status}; billing AUTHORIZED, orders CONFIRMED")


def test_an_accepted_payment_the_bff_does_not_hold_is_lost_and_an_extra_one_is_named() -> None:
    records = new_records()
    extra = declined(records)
    missing = _id()

    violations = check(records, {missing: "CAPTURED"}).violations

    assert {(v.check, v.payment_id) for v in violations} == {
        ("lost", missing),
        ("unrequested", extra),
    }


def test_an_outcome_other_than_the_one_asked_for_is_named() -> None:
    records = new_records()
    payment_id = declined(records)

    assert details(records, {payment_id: "CAPTURED"}) == ["outcome: DECLINED, expected CAPTURED"]


def test_a_dead_letter_and_a_provider_operation_for_no_payment_are_named() -> None:
    records = new_records()
    records.scan.dead_letters.append(
        DeadLetter("payment-initiated.dlq", 0, 7, _id(), {"dlq.error.code": "boom"})
    )
    records.operations.append(_capture(f"cap_{_id()}", f"po_{_id()}", "auth_nobody", 100))

    assert [v.check for v in check(records).violations] == ["dead_letter", "provider"]


# -- on a live system: a window of time and a grace period -------------------------------------

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
GRACE = timedelta(minutes=5)


def accepted_ago(records: Records, payment_id: str, ago: timedelta) -> None:
    records.bff[payment_id]["created_at"] = NOW - ago
    for op in records.operations:
        op.setdefault("created_at", NOW - ago)


def live(records: Records) -> list[str]:
    records.read_at = NOW
    return [f"{v.check}: {v.detail}" for v in check(records, settle_grace=GRACE).violations]


@pytest.mark.parametrize("status", ["PROCESSING", "AUTHORIZED", "ORDER_CONFIRMED"])
def test_a_payment_in_flight_within_the_grace_is_settling_not_a_violation(status: str) -> None:
    records = new_records()
    payment_id = captured(records)
    records.bff[payment_id]["status"] = status
    accepted_ago(records, payment_id, timedelta(minutes=4))
    records.read_at = NOW

    report = check(records, settle_grace=GRACE)

    assert report.violations == []
    assert report.settling == 1
    assert report.payments == 1


def test_a_payment_in_flight_past_the_grace_is_named_stuck_with_how_long() -> None:
    records = new_records()
    payment_id = captured(records)
    records.bff[payment_id]["status"] = "AUTHORIZED"
    accepted_ago(records, payment_id, timedelta(minutes=12, seconds=3))

    [found] = live(records)

    assert found.startswith("settled: still AUTHORIZED 12m03s after it was accepted; billing")


def test_a_refused_order_whose_void_is_on_its_way_is_settling_only_within_the_grace() -> None:
    records = new_records()
    payment_id = refused(records)
    records.billing[payment_id]["status"] = "AUTHORIZED"  # billing has not voided yet
    accepted_ago(records, payment_id, timedelta(seconds=10))
    assert live(records) == []

    accepted_ago(records, payment_id, timedelta(minutes=10))

    assert live(records) == [
        "agreement: BFF FAILED, but billing's authorization is AUTHORIZED, expected VOIDED"
    ]


def test_a_young_settled_payment_that_disagrees_is_named_at_once() -> None:
    records = new_records()
    payment_id = captured(records)
    records.capture[payment_id]["captured_minor"] = 1
    accepted_ago(records, payment_id, timedelta(seconds=1))

    assert live(records) == [
        "agreement: BFF CAPTURED, but capture's payment captured 1, the BFF shows 1000"
    ]


def test_what_a_payment_accepted_before_the_window_left_in_it_is_no_stray() -> None:
    records = new_records()
    records.window = Window(start=NOW - timedelta(minutes=15))
    earlier = _id()
    records.accepted_elsewhere.add(earlier)
    _events(records, earlier, "PaymentCaptured")
    records.scan.first_at[earlier] = NOW - timedelta(minutes=1)
    authorization_id = f"auth_{_id()}"
    records.operations.append(
        {**_capture(f"cap_{_id()}", f"po_{_id()}", authorization_id, 100), "created_at": NOW}
    )
    records.operations.append(
        {
            **_capture(authorization_id, earlier, authorization_id, 100),
            "kind": "authorization",
            "created_at": NOW - timedelta(hours=1),
        }
    )

    assert live(records) == []


def test_strays_are_named_only_when_they_happened_in_the_window() -> None:
    records = new_records()
    records.window = Window(start=NOW - timedelta(minutes=15), end=NOW - timedelta(minutes=5))
    inside, before, after = _id(), _id(), _id()
    for payment_id, at in [
        (inside, NOW - timedelta(minutes=10)),
        (before, NOW - timedelta(minutes=16)),
        (after, NOW - timedelta(minutes=4)),
    ]:
        _events(records, payment_id, "PaymentInitiated")
        records.scan.first_at[payment_id] = at
        authorization_id = f"auth_{_id()}"
        records.operations.append(
            {
                **_capture(authorization_id, payment_id, authorization_id, 100),
                "kind": "authorization",
                "created_at": at,
            }
        )

    found = {(v.check, v.payment_id) for v in check(records, settle_grace=GRACE).violations}

    assert found == {("events", inside), ("provider", inside)}


# -- refunds -----------------------------------------------------------------------------------


def refunded(records: Records, amounts: list[int], refunds: list[dict[int, int]]) -> str:
    """A captured payment of `amounts` refunded everywhere as `refunds` say: each one a refund,
    line_no -> amount given back."""
    payment_id = captured(records, amounts)
    total = sum(sum(refund.values()) for refund in refunds)
    status = "REFUNDED" if total == sum(amounts) else "PARTIALLY_REFUNDED"
    records.bff[payment_id].update(status=status, refunded_minor=total)
    records.capture[payment_id].update(status=status, refunded_minor=total)
    captures = {op["id"]: op for op in records.operations if op["kind"] == "capture"}
    for refund in refunds:
        refund_id = _id()
        for line_no, amount in refund.items():
            capture = captures[records.payment_orders[payment_id][line_no]["capture_id"]]
            records.operations.append(
                {
                    "id": f"re_{_id()}",
                    "kind": "refund",
                    "reference": f"{refund_id}:{line_no}",
                    "authorization_id": capture["authorization_id"],
                    "capture_id": capture["id"],
                    "amount_minor": amount,
                    "status": "refunded",
                }
            )
        _events(records, payment_id, "RefundRequested", "PaymentRefunded")
    return payment_id


@pytest.mark.parametrize(
    ("refunds", "status"),
    [
        ([{0: 700, 1: 300}], "REFUNDED"),
        ([{0: 200}, {1: 300}, {0: 500}], "REFUNDED"),
        ([{0: 200}], "PARTIALLY_REFUNDED"),
        ([{0: 200}, {1: 100}], "PARTIALLY_REFUNDED"),
    ],
)
def test_a_refunded_payment_whose_every_story_adds_up_passes(
    refunds: list[dict[int, int]], status: str
) -> None:
    records = new_records()
    payment_id = refunded(records, [700, 300], refunds)

    report = check(records, {payment_id: status})

    assert report.violations == []
    assert report.statuses == {status: 1}


def test_a_payment_refunded_after_a_partial_capture_passes() -> None:
    records = new_records()
    payment_id = refunded(records, [700, 300], [{0: 700}])
    [_, failed_line] = records.payment_orders[payment_id]
    records.operations = [op for op in records.operations if op["id"] != failed_line["capture_id"]]
    failed_line.update(status="CAPTURE_FAILED", capture_id=None)
    for place in (records.bff, records.capture):
        place[payment_id].update(status="REFUNDED", captured_minor=700)
    records.scan.payloads[payment_id][0] = replace(
        records.scan.payloads[payment_id][0], amount_minor=700, partial=True
    )
    _events(records, payment_id, "CaptureFailed")

    assert details(records, {payment_id: "REFUNDED"}) == []


def test_a_refund_at_the_provider_the_bff_does_not_show_is_named() -> None:
    records = new_records()
    payment_id = refunded(records, [700, 300], [{0: 200}])
    records.bff[payment_id]["refunded_minor"] = 100

    assert details(records) == [
        "provider: refunded 200 at the provider, the BFF shows 100",
        "agreement: BFF PARTIALLY_REFUNDED, but capture's payment refunded 200, the BFF shows 100",
    ]


def test_a_refund_the_provider_has_no_record_of_is_named() -> None:
    records = new_records()
    refunded(records, [700, 300], [{0: 700, 1: 300}])
    records.operations = [
        op
        for op in records.operations
        if not (op["kind"] == "refund" and op["amount_minor"] == 300)
    ]

    assert details(records) == ["provider: refunded 700 at the provider, the BFF shows 1000"]


def test_capture_disagreeing_on_the_refunded_amount_is_named() -> None:
    records = new_records()
    payment_id = refunded(records, [700, 300], [{0: 200}, {1: 100}])
    records.capture[payment_id]["refunded_minor"] = 200

    assert details(records) == [
        "agreement: BFF PARTIALLY_REFUNDED, but capture's payment refunded 200, the BFF shows 300"
    ]


@pytest.mark.parametrize(
    ("refunds", "wrong"),
    [
        ([{0: 700, 1: 300}], "PARTIALLY_REFUNDED"),
        ([{1: 300}], "CAPTURED"),
        ([{1: 300}], "REFUNDED"),
    ],
)
def test_a_capture_status_other_than_the_bffs_refund_status_is_named(
    refunds: list[dict[int, int]], wrong: str
) -> None:
    records = new_records()
    payment_id = refunded(records, [700, 300], refunds)
    status = records.bff[payment_id]["status"]
    records.capture[payment_id]["status"] = wrong

    assert details(records) == [
        f"agreement: BFF {status}, but capture's payment is {wrong}, expected {status}"
    ]


def test_a_refunded_payment_whose_line_was_captured_twice_is_named() -> None:
    records = new_records()
    refunded(records, [1000], [{0: 400}])
    [first] = [op for op in records.operations if op["kind"] == "capture"]
    records.operations.append({**first, "id": f"cap_{_id()}"})

    found = details(records)

    assert f"provider: payment order {first['reference']} captured 2 times" in found
    assert "provider: captured 2000 at the provider, the BFF shows 1000" in found


def test_a_status_its_refunded_amount_does_not_bear_out_is_named() -> None:
    records = new_records()
    full = refunded(records, [700, 300], [{0: 700, 1: 300}])
    partial = refunded(records, [700, 300], [{0: 700}])
    records.bff[full]["status"] = records.capture[full]["status"] = "PARTIALLY_REFUNDED"
    records.bff[partial]["status"] = records.capture[partial]["status"] = "REFUNDED"

    assert sorted(details(records)) == [
        "agreement: BFF PARTIALLY_REFUNDED, but refunded 1000 of 1000 captured, expected some",
        "agreement: BFF REFUNDED, but refunded 700 of 1000 captured, expected all",
    ]


def test_more_refunded_at_the_provider_than_captured_is_named() -> None:
    records = new_records()
    payment_id = refunded(records, [700, 300], [{0: 700, 1: 300}])
    records.operations += [
        {**op, "id": f"re_{_id()}"}
        for op in list(records.operations)
        if op["kind"] == "refund" and op["amount_minor"] == 300
    ]

    found = details(records)

    assert "provider: refunded 1300 at the provider, more than the 1000 captured" in found
    assert payment_id in {v.payment_id for v in check(records).violations}


def test_a_captured_payment_whose_refund_failed_passes() -> None:
    records = new_records()
    payment_id = captured(records)
    _events(records, payment_id, "RefundRequested", "RefundFailed", "RefundRequested")
    _events(records, payment_id, "RefundFailed")

    assert details(records, {payment_id: "CAPTURED"}) == []


def test_a_captured_payment_with_refunds_at_the_provider_is_named() -> None:
    records = new_records()
    payment_id = refunded(records, [700, 300], [{1: 300}])
    records.bff[payment_id].update(status="CAPTURED", refunded_minor=0)
    records.capture[payment_id].update(status="CAPTURED", refunded_minor=0)
    del records.scan.events[payment_id]["PaymentRefunded"]

    assert details(records) == ["provider: refunded 300 at the provider, the BFF shows 0"]


def test_a_payment_refunded_without_a_capture_event_is_named() -> None:
    records = new_records()
    payment_id = refunded(records, [1000], [{0: 1000}])
    records.scan.events[payment_id].pop("PaymentCaptured")

    assert details(records) == ["events: no PaymentCaptured on its topic"]


# -- re-driven dead letters --------------------------------------------------------------------


def test_a_dead_letter_an_operator_re_drove_is_counted_not_named() -> None:
    records = new_records()
    redriven, left = (
        DeadLetter("order-failed.dlq", 2, offset, _id(), {"dlq.error.code": "boom"})
        for offset in (17, 18)
    )
    records.scan.dead_letters += [redriven, left]
    records.redriven = {"order-failed.dlq:2:17", "order-failed.dlq:0:18"}

    report = check(records)

    assert [(v.check, v.payment_id) for v in report.violations] == [("dead_letter", left.key)]
    assert report.redriven == 1
    assert "1 re-driven dead letters" in report.summary()
