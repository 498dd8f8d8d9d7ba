"""`payctl checkout`: open a checkout session on a running BFF, as a shop's backend does, and
print its checkout URL for a browser (the README's walkthrough)."""

from __future__ import annotations

import os

import click
import httpx

from payctl.tokens import development_token

# A shop backend's token lives a minute here: it is used once, for this one request.
TOKEN_SECONDS = 60


@click.command()
@click.option("--bff-url", default="http://127.0.0.1:8000", show_default=True)
@click.option("--customer", default="cus_demo", show_default=True, help="Who pays and signs in.")
@click.option(
    "--amount",
    "amount_minor",
    type=click.IntRange(min=1),
    default=1999,
    show_default=True,
    help="In the currency's minor unit.",
)
@click.option("--currency", default="EUR", show_default=True)
@click.option("--seller", default="seller_demo", show_default=True)
@click.option(
    "--client",
    default="demo-shop",
    show_default=True,
    help="The shop backend the session belongs to (its client token's subject).",
)
@click.option(
    "--expires-in",
    type=click.IntRange(60, 86400),
    default=1800,
    show_default=True,
    help="Seconds the checkout URL can be paid.",
)
def checkout(
    bff_url: str,
    customer: str,
    amount_minor: int,
    currency: str,
    seller: str,
    client: str,
    expires_in: int,
) -> None:
    """Open a checkout session for CUSTOMER and print its checkout URL.

    The URL is the shopper's capability to pay that session: open it in a browser, never log
    it. The client token is made with BFF_AUTH_SECRET (or the development secret when unset).
    """
    token = development_token(os.environ, client, TOKEN_SECONDS)
    body = {
        "customer_id": customer,
        "currency": currency,
        "lines": [{"seller_id": seller, "amount_minor": amount_minor}],
        "expires_in_seconds": expires_in,
    }
    try:
        answer = httpx.post(
            f"{bff_url.rstrip('/')}/v1/checkout-sessions",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except httpx.HTTPError as e:
        raise click.ClickException(f"cannot reach the BFF at {bff_url}: {e}") from None
    if answer.status_code != 201:
        raise click.ClickException(
            f"the BFF refused the session ({answer.status_code}): {answer.text}"
        )
    click.echo(answer.json()["checkout_url"])
