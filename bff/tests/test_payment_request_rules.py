"""What a payment request must look like, checked without servers: the domain rules and the
API model that calls them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bff.api.models import PaymentRequest
from bff.domain.payment_request import MAX_TOTAL_MINOR, check_payment_method, check_total


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": "cus_1",
        "currency": "EUR",
        "payment_method": "pm_card_visa",
        "lines": [{"seller_id": "seller_a", "amount_minor": 1000}],
        "return_url": "https://shop.example/thanks",
    } | overrides


def one_line(seller_id: str = "s", amount_minor: object = 1) -> dict[str, Any]:
    return {"lines": [{"seller_id": seller_id, "amount_minor": amount_minor}]}


def problems(**overrides: Any) -> list[tuple[str, str]]:
    try:
        PaymentRequest.model_validate(body(**overrides))
    except ValidationError as e:
        return [(".".join(str(p) for p in err["loc"]), err["type"]) for err in e.errors()]
    return []


@pytest.mark.parametrize(
    "token",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "378282246310005",
        "pm_4000056655665556",
        "6011111111111117000",
    ],
)
def test_a_card_number_is_refused_as_such(token: str) -> None:
    problem = check_payment_method(token)
    assert problem is not None
    assert problem.code == "card_number_not_allowed"
    assert token not in problem.message


@pytest.mark.parametrize("token", ["1234", "visa", "pm_", "_card", "pm card visa", ""])
def test_a_value_that_is_no_provider_token_is_refused(token: str) -> None:
    problem = check_payment_method(token)
    assert problem is not None
    assert problem.code == "invalid_payment_method"


@pytest.mark.parametrize("token", ["pm_card_visa", "pm_card_declined", "tok_1MqLiJLkdIwHu7ix"])
def test_provider_tokens_pass(token: str) -> None:
    assert check_payment_method(token) is None


def test_a_total_beyond_a_64_bit_amount_is_refused() -> None:
    assert check_total([MAX_TOTAL_MINOR]) is None
    problem = check_total([MAX_TOTAL_MINOR, 1])
    assert problem is not None
    assert problem.code == "total_too_large"


def test_a_valid_request_passes() -> None:
    assert problems() == []
    assert problems(return_url=None) == []
    assert problems(currency="JPY") == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"currency": "EURO"}, ("currency", "invalid_currency")),
        ({"currency": "ZZZ"}, ("currency", "invalid_currency")),
        ({"currency": "eur"}, ("currency", "invalid_currency")),
        ({"currency": "XAU"}, ("currency", "invalid_currency")),
        ({"customer_id": ""}, ("customer_id", "string_too_short")),
        ({"customer_id": "  "}, ("customer_id", "invalid_format")),
        ({"payment_method": "4242424242424242"}, ("payment_method", "card_number_not_allowed")),
        ({"lines": []}, ("lines", "too_short")),
        ({"lines": [{"seller_id": "s", "amount_minor": 1}] * 101}, ("lines", "too_long")),
        (one_line(amount_minor=0), ("lines.0.amount_minor", "greater_than")),
        (one_line(amount_minor=-5), ("lines.0.amount_minor", "greater_than")),
        (one_line(amount_minor="10"), ("lines.0.amount_minor", "int_type")),
        (one_line(amount_minor=1.5), ("lines.0.amount_minor", "int_type")),
        (one_line(amount_minor=True), ("lines.0.amount_minor", "int_type")),
        (one_line(seller_id=""), ("lines.0.seller_id", "string_too_short")),
        ({"return_url": "ftp://shop.example/"}, ("return_url", "url_scheme")),
        ({"return_url": "not a url"}, ("return_url", "url_parsing")),
        ({"amount": 10}, ("amount", "extra_forbidden")),
    ],
)
def test_an_invalid_request_names_the_field_and_the_problem(
    overrides: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert problems(**overrides) == [expected]


def test_lines_adding_up_beyond_64_bits_are_refused_on_lines() -> None:
    lines = [{"seller_id": "s", "amount_minor": MAX_TOTAL_MINOR}] * 2
    assert problems(lines=lines) == [("lines", "total_too_large")]
