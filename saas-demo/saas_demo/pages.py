"""The app's HTML: a signed-in page, a signed-out one, and a refusal that says why. Plain
markup, every value escaped."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

HEADERS = {
    # A signed-in page names the customer: no cache keeps it.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} · SaaS demo</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def signed_in(customer_id: str) -> HTMLResponse:
    who = escape(customer_id)
    return page(
        f"Signed in as {customer_id}",
        f'<main data-customer="{who}">\n<h1>Signed in as {who}</h1>\n'
        "<p>Your payment went through and your order is confirmed. Welcome to the app.</p>\n"
        "</main>",
    )


def signed_out() -> HTMLResponse:
    return page(
        "Not signed in",
        "<main>\n<h1>Not signed in</h1>\n"
        "<p>Sign in by completing a checkout: the shop sends you here when your order is "
        "confirmed.</p>\n</main>",
    )


def refused(code: str, message: str, status: int) -> HTMLResponse:
    return page(
        "Sign-in refused",
        f'<main data-code="{escape(code)}">\n<h1>Sign-in refused</h1>\n'
        f'<p role="alert">{escape(message)}</p>\n<p>Nobody was signed in.</p>\n</main>',
        status,
    )
