"""The checkout in a real browser (Debian's Chromium driven by Playwright) against the session
stack: a backend opens a session, the shopper pays it on the page and lands signed in to the
demo SaaS app. Each test's end state is saved as a screenshot (tests/browser_support.py)."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from browser_support import artifact
from e2e_support import count_rows, payments_client
from ops_support import payctl
from playwright.sync_api import expect

from psp_sim.admin_client import reset, set_behaviour

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Page

    from payctl.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# The whole choreography runs between the click and the sign-in: generous on a busy machine.
SETTLED_MS = 60_000
SIGNED_IN = re.compile(r"Signed in as (\S+)")


def open_session(stack: Stack, customer: str | None = None, **extra: Any) -> dict[str, Any]:
    """A checkout session as a shop's backend opens it, server to server."""
    body = {
        "customer_id": customer or f"cus_{uuid.uuid4().hex[:8]}",
        "currency": "EUR",
        "lines": [
            {"seller_id": "seller_books", "amount_minor": 1000},
            {"seller_id": "seller_tea", "amount_minor": 250},
        ],
        "return_url": "https://shop.example/cart",
        **extra,
    }
    with payments_client(stack) as shop:
        created = shop.post("/v1/checkout-sessions", json=body)
    assert created.status_code == 201, created.text
    return created.json() | {"customer_id": body["customer_id"]}


def backend_view(stack: Stack, session_id: str) -> dict[str, Any]:
    with payments_client(stack) as shop:
        seen = shop.get(f"/v1/checkout-sessions/{session_id}")
    assert seen.status_code == 200, seen.text
    return dict(seen.json())


def payments_of(stack: Stack, customer: str) -> int:
    return count_rows(
        stack.database_url("bff"), "SELECT count(*) FROM payments WHERE customer_id = %s", customer
    )


def expect_signed_in(page: Page, stack: Stack, customer: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Signed in as {customer}", timeout=SETTLED_MS
    )
    # Landed on the app's own page by a POST and a redirect: the token is in no URL, and a
    # reload does not send it again.
    assert urlsplit(page.url).path == "/"
    assert urlsplit(page.url).netloc == urlsplit(stack.urls["saas-demo"]).netloc


def choose_and_pay(page: Page, method_label: str) -> None:
    page.get_by_label(method_label).check()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()


VISA = "Visa ending 4242 (pm_card_visa)"
DECLINED = "A card that is declined (pm_card_declined)"


def test_a_shopper_pays_and_lands_signed_in(page: Page, stack: Stack) -> None:
    session = open_session(stack)
    page.goto(session["checkout_url"])

    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    expect(page.locator("#total")).to_have_text("€12.50")
    expect(page.get_by_role("button", name="Pay €12.50")).to_be_enabled()
    choose_and_pay(page, VISA)

    expect_signed_in(page, stack, session["customer_id"])
    assert backend_view(stack, session["session_id"])["attempts"] == 1


def test_a_declined_card_says_so_and_another_card_may_follow(page: Page, stack: Stack) -> None:
    session = open_session(stack)
    page.goto(session["checkout_url"])

    choose_and_pay(page, DECLINED)

    status = page.get_by_role("status")
    expect(status).to_contain_text("Your card was declined.", timeout=SETTLED_MS)
    expect(status).to_contain_text("Nothing was charged")
    page.screenshot(path=str(artifact("checkout-declined-card")), full_page=True)
    choose_and_pay(page, VISA)
    expect_signed_in(page, stack, session["customer_id"])
    assert backend_view(stack, session["session_id"])["attempts"] == 2


def test_a_refused_order_is_explained_and_releases_the_money(page: Page, stack: Stack) -> None:
    session = open_session(stack, customer="cus_blocked")
    page.goto(session["checkout_url"])

    choose_and_pay(page, VISA)

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Your order could not be confirmed", timeout=SETTLED_MS)
    expect(page.get_by_role("status")).to_contain_text("You have not been charged")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_hidden()
    # Focus moves to the new heading, so a screen reader starts there.
    expect(heading).to_be_focused()
    payment_id = backend_view(stack, session["session_id"])["payment_id"]
    with payments_client(stack) as shop:
        payment = shop.get(f"/v1/payments/{payment_id}").json()
    assert (payment["status"], payment["failure_code"]) == ("FAILED", "customer_blocked")
    assert payment["captured_minor"] == 0


def test_a_double_click_makes_one_payment(page: Page, stack: Stack) -> None:
    session = open_session(stack)
    page.goto(session["checkout_url"])
    page.get_by_label(VISA).check()

    page.get_by_role("button", name=re.compile(r"^Pay ")).dblclick()

    expect_signed_in(page, stack, session["customer_id"])
    assert payments_of(stack, session["customer_id"]) == 1
    assert backend_view(stack, session["session_id"])["attempts"] == 1


@pytest.fixture
def slow_provider(stack: Stack) -> Iterator[None]:
    """The provider takes 3 s per call, long enough to reload while the payment is processed."""
    set_behaviour(stack.urls["psp-sim"], latency_ms=3000)
    yield
    reset(stack.urls["psp-sim"])


@pytest.mark.usefixtures("slow_provider")
def test_a_reload_mid_processing_follows_the_same_payment(page: Page, stack: Stack) -> None:
    session = open_session(stack)
    page.goto(session["checkout_url"])
    choose_and_pay(page, VISA)
    expect(page.locator("body")).to_have_attribute("data-state", "processing")

    page.reload()

    expect(page.locator("body")).to_have_attribute("data-state", "processing")
    expect(page.get_by_role("status")).to_contain_text("Processing your payment")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_hidden()
    expect_signed_in(page, stack, session["customer_id"])
    assert payments_of(stack, session["customer_id"]) == 1


def test_a_replayed_sso_token_is_refused(page: Page, stack: Stack) -> None:
    session = open_session(stack)
    page.goto(session["checkout_url"])
    with page.expect_request(
        lambda r: r.method == "POST" and "/sso/callback" in r.url, timeout=SETTLED_MS
    ) as sign_in:
        choose_and_pay(page, VISA)
    expect_signed_in(page, stack, session["customer_id"])
    callback, token = sign_in.value.url, sign_in.value.post_data_json["token"]

    # The same token again, as an attacker who copied it would send it, from a fresh browser.
    replay = page.context.browser.new_page()  # type: ignore[union-attr]
    try:
        replay.goto(callback.split("?")[0].removesuffix("/sso/callback") + "/")
        replay.evaluate(
            """([action, token]) => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = action;
                const field = document.createElement("input");
                field.name = "token";
                field.value = token;
                form.append(field);
                document.body.append(form);
                form.submit();
            }""",
            [callback, token],
        )
        expect(replay.locator("[data-code]")).to_have_attribute("data-code", "sso_token_used")
        expect(replay.get_by_role("heading", level=1)).not_to_contain_text("Signed in as")
        replay.screenshot(path=str(artifact("checkout-sso-token-replayed")), full_page=True)
    finally:
        replay.close()


def tampered(checkout_url: str) -> str:
    url = urlsplit(checkout_url)
    flipped = ("B" if url.fragment[0] == "A" else "A") + url.fragment[1:]
    return urlunsplit(url._replace(fragment=flipped))


def test_a_tampered_checkout_url_shows_a_clear_page_and_charges_nothing(
    page: Page, stack: Stack
) -> None:
    session = open_session(stack)

    page.goto(tampered(session["checkout_url"]))

    expect(page.get_by_role("heading", level=1)).to_have_text("This checkout link is not valid")
    expect(page.get_by_role("status")).to_contain_text("Nothing was charged")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_hidden()
    assert backend_view(stack, session["session_id"])["attempts"] == 0
    assert payments_of(stack, session["customer_id"]) == 0


def test_an_expired_checkout_url_shows_a_clear_page_and_charges_nothing(
    page: Page, stack: Stack
) -> None:
    session = open_session(stack)
    # As if its lifetime had passed.
    with psycopg.connect(stack.database_url("bff")) as db:
        db.execute(
            "UPDATE checkout_sessions SET expires_at = now() - interval '1 second' "
            "WHERE session_id = %s",
            (session["session_id"],),
        )

    page.goto(session["checkout_url"])

    expect(page.get_by_role("heading", level=1)).to_have_text("This checkout link has expired")
    expect(page.get_by_role("status")).to_contain_text("Nothing was charged")
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_hidden()
    assert payments_of(stack, session["customer_id"]) == 0


def test_payctl_checkout_prints_a_url_the_browser_pays(page: Page, stack: Stack) -> None:
    customer = f"cus_{uuid.uuid4().hex[:8]}"
    made = payctl(stack, "checkout", "--bff-url", stack.bff_url, "--customer", customer)
    assert made.exit_code == 0, made.output

    page.goto(made.stdout.strip())
    expect(page.locator("#total")).to_have_text("€19.99")
    choose_and_pay(page, VISA)

    expect_signed_in(page, stack, customer)
