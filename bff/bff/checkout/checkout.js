// The checkout page's behaviour: show the session its URL's key opens, pay it once, follow the
// payment as the API's Retry-After says, and on a confirmed order sign the shopper in to the
// SaaS app by POSTing the single-use SSO token (a form field, never a URL).
"use strict";

(() => {
  const sessionId = decodeURIComponent(location.pathname.split("/").pop() || "");
  // The fragment: browsers never send it to a server, so the key is in no log.
  const key = location.hash.slice(1);
  const api = `/v1/checkout/${encodeURIComponent(sessionId)}`;
  const $ = (id) => document.getElementById(id);
  const title = $("title");
  const status = $("status");
  const form = $("pay-form");
  const payButton = $("pay");
  // Whether a payment request is on its way: a second click while it is does nothing.
  let paying = false;
  let pollTimer = null;

  function show(state, text, { heading, focus = false } = {}) {
    document.body.dataset.state = state;
    if (heading) title.textContent = heading;
    status.textContent = text;
    // A new heading is where a keyboard or screen-reader user wants to be; the live region
    // announces the rest.
    if (focus) title.focus();
  }

  function money(minor, currency) {
    const format = new Intl.NumberFormat("en", { style: "currency", currency });
    return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
  }

  // A provider's or a service's reason as a sentence of its own.
  function sentence(text, fallback) {
    const said = (text || fallback).trim();
    const capital = said.charAt(0).toUpperCase() + said.slice(1);
    return /[.!?]$/.test(capital) ? capital : `${capital}.`;
  }

  function retryAfter(response, fallbackSeconds) {
    const seconds = Number(response && response.headers.get("Retry-After"));
    return 1000 * (Number.isFinite(seconds) && seconds > 0 ? seconds : fallbackSeconds);
  }

  function later(action, ms) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(action, ms);
  }

  async function call(path, options = {}) {
    const headers = { Accept: "application/json", "Checkout-Key": key, ...(options.headers || {}) };
    const response = await fetch(path, { ...options, headers, cache: "no-store", credentials: "omit" });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { response, body };
  }

  function end(state, heading, text) {
    form.hidden = true;
    show(state, text, { heading, focus: true });
  }

  function notValid() {
    $("summary").hidden = true;
    end(
      "invalid",
      "This checkout link is not valid",
      "Check that you opened the whole link the shop sent you, or ask the shop for a new one. Nothing was charged.",
    );
  }

  function expired() {
    end("expired", "This checkout link has expired", "Nothing was charged. Ask the shop for a new checkout link.");
  }

  function unreachable(retry, response) {
    show("unavailable", "The payment service cannot be reached right now; trying again…");
    later(retry, retryAfter(response, 2));
  }

  function summarise(view) {
    const rows = $("lines").tBodies[0];
    rows.replaceChildren(
      ...view.lines.map((line) => {
        const row = document.createElement("tr");
        const seller = document.createElement("td");
        const amount = document.createElement("td");
        seller.textContent = line.seller_id;
        amount.textContent = money(line.amount_minor, view.currency);
        amount.className = "amount";
        row.append(seller, amount);
        return row;
      }),
    );
    $("total").textContent = money(view.amount_minor, view.currency);
    $("summary").hidden = false;
    payButton.textContent = `Pay ${money(view.amount_minor, view.currency)}`;
    if (view.return_url) {
      $("next-link").href = view.return_url;
      $("next").hidden = false;
    }
  }

  // One key per payment attempt, kept across reloads: a retried or repeated request of the same
  // attempt is answered with the payment it already made.
  function attemptKey(view) {
    const name = `checkout:${sessionId}:attempt:${view.attempts}`;
    let value = sessionStorage.getItem(name);
    if (!value) {
      value = crypto.randomUUID();
      sessionStorage.setItem(name, value);
    }
    return value;
  }

  function offer(view, text, state = "open") {
    paying = false;
    payButton.disabled = false;
    form.hidden = false;
    form.dataset.key = attemptKey(view);
    show(state, text, { heading: "Checkout" });
  }

  function signIn(payment) {
    const signedIn = `checkout:${sessionId}:signed-in`;
    form.hidden = true;
    if (sessionStorage.getItem(signedIn) === payment.payment_id) {
      // Back from the app: the token was used once and would be refused a second time.
      $("next-link").href = new URL(payment.redirect_url).origin + "/";
      $("next-link").textContent = "Continue to the app";
      $("next").hidden = false;
      end("done", "Payment complete", "Your order is confirmed and you were signed in.");
      return;
    }
    sessionStorage.setItem(signedIn, payment.payment_id);
    show("signing-in", "Payment confirmed. Signing you in…", { heading: "Payment confirmed" });
    const signInForm = document.createElement("form");
    signInForm.method = "post";
    signInForm.action = payment.redirect_url;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "token";
    token.value = payment.sso_token;
    signInForm.append(token);
    document.body.append(signInForm);
    signInForm.submit();
  }

  function follow(view, response) {
    const payment = view.payment;
    if (payment === null) {
      if (!view.can_pay) return view.expired ? expired() : end("failed", "Checkout closed", "This checkout can no longer be paid.");
      return offer(view, "Choose a payment method and pay.");
    }
    switch (payment.status) {
      case "PROCESSING":
      case "AUTHORIZED":
        form.hidden = true;
        show("processing", "Processing your payment… Please keep this page open.", { heading: "Processing" });
        return later(load, retryAfter(response, 1));
      case "ORDER_CONFIRMED":
      case "CAPTURED":
      case "PARTIALLY_CAPTURED":
        if (payment.sso_token && payment.redirect_url) return signIn(payment);
        return end("done", "Payment complete", "Your order is confirmed.");
      case "DECLINED": {
        const why = sentence(payment.failure_reason, "The card was declined");
        if (view.can_pay) return offer(view, `${why} Nothing was charged. Try another payment method.`, "declined");
        return end("declined", "Payment declined", `${why} Nothing was charged. Ask the shop for a new checkout link.`);
      }
      case "FAILED":
        return end(
          "failed",
          payment.failure_code === "customer_blocked" ? "Your order could not be confirmed" : "Payment failed",
          `${sentence(payment.failure_reason, "The payment could not be completed")} You have not been charged: the amount held on your card is released.`,
        );
      case "PARTIALLY_REFUNDED":
      case "REFUNDED":
        return end("refunded", "Payment refunded", "This payment was refunded to your payment method.");
      default:
        return end("failed", "Payment status unknown", `The payment is ${payment.status}.`);
    }
  }

  async function load() {
    if (!key) return notValid();
    let answer;
    try {
      answer = await call(api);
    } catch {
      return unreachable(load);
    }
    const { response, body } = answer;
    if (response.status === 404) return notValid();
    if (!response.ok || body === null) return unreachable(load, response);
    summarise(body);
    return follow(body, response);
  }

  async function pay(event) {
    event.preventDefault();
    if (paying) return;
    paying = true;
    payButton.disabled = true;
    show("paying", "Sending your payment…");
    return send(form.elements.payment_method.value);
  }

  async function send(method) {
    let answer;
    try {
      answer = await call(`${api}/payments`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": form.dataset.key },
        body: JSON.stringify({ payment_method: method }),
      });
    } catch {
      // The same attempt's key again: the payment is made once however often this is sent.
      return unreachable(() => send(method));
    }
    return settle(answer, method);
  }

  function settle({ response, body }, method) {
    const code = body && body.code;
    if (response.status === 202 || response.status === 409) {
      // Accepted, or already paid from another tab or click: either way, follow the session.
      form.hidden = true;
      show("processing", "Processing your payment… Please keep this page open.", { heading: "Processing" });
      return later(load, retryAfter(response, 1));
    }
    if (response.status === 404) return notValid();
    if (response.status === 410) return expired();
    if (response.status >= 500) return unreachable(() => send(method), response);
    paying = false;
    payButton.disabled = false;
    return show("declined", (body && body.message) || `The payment was refused (${code || response.status}).`);
  }

  form.addEventListener("submit", pay);
  load();
})();
