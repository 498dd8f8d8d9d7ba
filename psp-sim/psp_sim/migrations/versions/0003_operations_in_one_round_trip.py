"""The provider operations as server-side functions: each claims its Idempotency-Key, checks the
provider's rules against the ledger, writes its ledger row and stores its answer in one call, so
an operation is one round trip and one transaction.

These functions are where the rules on an authorization's and a capture's state live (what can
be captured, voided, refunded), with the codes, messages and HTTP statuses of their refusals.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The answer every operation function gives: `result` is 'performed' (this call ran the
# operation, or refused it under the rules, and stored that answer), 'replayed' (the key's
# stored answer) or 'reused' (the key was first used with another request; nothing stored).
ANSWER = (
    "OUT result text, OUT status_code int, OUT outcome text, OUT operation_id text, "
    "OUT response text"
)

FUNCTIONS = [
    # Claims the key for this transaction: NULL when it is now ours, else the row holding it.
    """
CREATE FUNCTION psp_claim_key(p_key text, p_fingerprint text) RETURNS idempotency_keys
LANGUAGE plpgsql AS $$
DECLARE
    held idempotency_keys;
BEGIN
    -- A twin in flight holds the uncommitted key row: this insert waits for it to finish, then
    -- conflicts, and the next statement (a new snapshot) reads what the twin stored. If the
    -- twin rolled back, this one claims the key.
    INSERT INTO idempotency_keys (key, fingerprint) VALUES (p_key, p_fingerprint)
    ON CONFLICT (key) DO NOTHING;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO STRICT held FROM idempotency_keys WHERE key = p_key;
    RETURN held;
END $$
""",
    # What a request with a key already used gets: the stored answer when it is the same request.
    f"""
CREATE FUNCTION psp_replay(held idempotency_keys, p_fingerprint text, {ANSWER})
LANGUAGE plpgsql AS $$
BEGIN
    IF held.fingerprint <> p_fingerprint THEN
        result := 'reused';
        RETURN;
    END IF;
    result := 'replayed';
    status_code := held.status_code;
    operation_id := held.response ->> 'id';
    response := held.response::text;
END $$
""",
    # Stores the answer under the key this transaction claimed: a retry replays it. Refusals
    # are stored too, as Stripe does, so a retry cannot turn a refused capture into a success.
    f"""
CREATE FUNCTION psp_answer(p_key text, p_status int, p_body jsonb, {ANSWER})
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE idempotency_keys SET status_code = p_status, response = p_body WHERE key = p_key;
    result := 'performed';
    status_code := p_status;
    outcome := CASE WHEN p_status < 400 THEN p_body ->> 'status' ELSE p_body ->> 'code' END;
    operation_id := p_body ->> 'id';
    response := p_body::text;
END $$
""",
    """
CREATE FUNCTION psp_refusal(p_code text, p_message text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_build_object('code', p_code, 'message', p_message) $$
""",
    # ISO 8601 in UTC with a Z, whatever the session's time zone.
    """
CREATE FUNCTION psp_timestamp(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$
""",
    # An authorization as its ledger rows show it, its row locked until the transaction ends:
    # captures and voids of one authorization run one at a time, so their sum cannot pass the
    # authorized amount. No row (id NULL) when there is no such authorization.
    """
CREATE FUNCTION psp_held_authorization(
    p_id text,
    OUT id text, OUT status text, OUT amount_minor bigint, OUT currency text,
    OUT captured_minor bigint, OUT state text
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    voided boolean;
BEGIN
    SELECT a.id, a.status, a.amount_minor, a.currency INTO id, status, amount_minor, currency
    FROM operations a WHERE a.id = p_id AND a.kind = 'authorization' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(sum(o.amount_minor) FILTER (WHERE o.kind = 'capture'), 0),
           count(*) FILTER (WHERE o.kind = 'void') > 0
    INTO captured_minor, voided
    FROM operations o WHERE o.authorization_id = p_id;
    state := CASE WHEN voided THEN 'voided' WHEN captured_minor > 0 THEN 'captured' ELSE status END;
END $$
""",
    # A refusal decided before the rules need the ledger (an unknown payment method), kept under
    # its key like any answer.
    f"""
CREATE FUNCTION psp_refuse(
    p_key text, p_fingerprint text, p_status int, p_code text, p_message text, {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
    held idempotency_keys := psp_claim_key(p_key, p_fingerprint);
BEGIN
    IF held.key IS NOT NULL THEN
        SELECT * INTO result, status_code, outcome, operation_id, response
        FROM psp_replay(held, p_fingerprint);
    ELSE
        SELECT * INTO result, status_code, outcome, operation_id, response
        FROM psp_answer(p_key, p_status, psp_refusal(p_code, p_message));
    END IF;
END $$
""",
    f"""
CREATE FUNCTION psp_authorize(
    p_key text, p_fingerprint text, p_id text, p_amount_minor bigint, p_currency text,
    p_reference text, p_status text, p_decline_code text, p_decline_reason text, {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
    held idempotency_keys := psp_claim_key(p_key, p_fingerprint);
    body jsonb;
BEGIN
    IF held.key IS NOT NULL THEN
        SELECT * INTO result, status_code, outcome, operation_id, response
        FROM psp_replay(held, p_fingerprint);
        RETURN;
    END IF;
    INSERT INTO operations (id, kind, idempotency_key, reference, authorization_id,
                            amount_minor, currency, status, decline_code, decline_reason)
    VALUES (p_id, 'authorization', p_key, p_reference, p_id,
            p_amount_minor, p_currency, p_status, p_decline_code, p_decline_reason);
    body := jsonb_build_object(
        'id', p_id, 'status', p_status, 'amount_minor', p_amount_minor,
        'currency', p_currency, 'reference', p_reference,
        'decline_code', p_decline_code, 'decline_reason', p_decline_reason);
    SELECT * INTO result, status_code, outcome, operation_id, response
    FROM psp_answer(p_key, 201, body);
END $$
""",
    f"""
CREATE FUNCTION psp_capture(
    p_key text, p_fingerprint text, p_id text, p_authorization_id text, p_amount_minor bigint,
    p_reference text, {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
    held idempotency_keys := psp_claim_key(p_key, p_fingerprint);
    auth record;
    answer_status int := 201;
    body jsonb;
BEGIN
    IF held.key IS NOT NULL THEN
        SELECT * INTO result, status_code, outcome, operation_id, response
        FROM psp_replay(held, p_fingerprint);
        RETURN;
    END IF;
    SELECT * INTO auth FROM psp_held_authorization(p_authorization_id);
    -- Partial captures may follow one another while their sum stays within the hold.
    IF auth.id IS NULL THEN
        answer_status := 404;
        body := psp_refusal('authorization_not_found',
                            format('No such authorization: %L', p_authorization_id));
    ELSIF auth.state NOT IN ('authorized', 'captured') THEN
        answer_status := 409;
        body := psp_refusal('authorization_not_capturable',
                            format('Authorization %s is %s; it cannot be captured',
                                   auth.id, auth.state));
    ELSIF p_amount_minor > auth.amount_minor - auth.captured_minor THEN
        answer_status := 409;
        body := psp_refusal('amount_exceeds_authorization',
                            format('Cannot capture %s: authorization %s has %s of %s left '
                                   'to capture', p_amount_minor, auth.id,
                                   auth.amount_minor - auth.captured_minor, auth.amount_minor));
    ELSE
        INSERT INTO operations (id, kind, idempotency_key, reference, authorization_id,
                                amount_minor, currency, status)
        VALUES (p_id, 'capture', p_key, p_reference, p_authorization_id,
                p_amount_minor, auth.currency, 'succeeded');
        body := jsonb_build_object(
            'id', p_id, 'authorization_id', p_authorization_id, 'amount_minor', p_amount_minor,
            'reference', p_reference, 'status', 'succeeded');
    END IF;
    SELECT * INTO result, status_code, outcome, operation_id, response
    FROM psp_answer(p_key, answer_status, body);
END $$
""",
    f"""
CREATE FUNCTION psp_void(
    p_key text, p_fingerprint text, p_id text, p_authorization_id text, p_reference text,
    {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
    held idempotency_keys := psp_claim_key(p_key, p_fingerprint);
    auth record;
    answer_status int := 201;
    body jsonb;
BEGIN
    IF held.key IS NOT NULL THEN
        SELECT * INTO result, status_code, outcome, operation_id, response
        FROM psp_replay(held, p_fingerprint);
        RETURN;
    END IF;
    SELECT * INTO auth FROM psp_held_authorization(p_authorization_id);
    IF auth.id IS NULL THEN
        answer_status := 404;
        body := psp_refusal('authorization_not_found',
                            format('No such authorization: %L', p_authorization_id));
    ELSIF auth.state <> 'authorized' THEN
        answer_status := 409;
        body := psp_refusal('authorization_not_voidable',
                            format('Authorization %s is %s; it cannot be voided',
                                   auth.id, auth.state));
    ELSE
        INSERT INTO operations (id, kind, idempotency_key, reference, authorization_id,
                                currency, status)
        VALUES (p_id, 'void', p_key, p_reference, p_authorization_id, auth.currency, 'succeeded');
        body := jsonb_build_object(
            'id', p_id, 'authorization_id', p_authorization_id, 'status', 'succeeded');
    END IF;
    SELECT * INTO result, status_code, outcome, operation_id, response
    FROM psp_answer(p_key, answer_status, body);
END $$
""",
    f"""
CREATE FUNCTION psp_refund(
    p_key text, p_fingerprint text, p_id text, p_capture_id text, p_amount_minor bigint,
    p_reference text, {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
    held idempotency_keys := psp_claim_key(p_key, p_fingerprint);
    cap operations;
    refunded bigint;
    answer_status int := 201;
    body jsonb;
    created timestamptz;
BEGIN
    IF held.key IS NOT NULL THEN
        SELECT * INTO result, status_code, outcome, operation_id, response
        FROM psp_replay(held, p_fingerprint);
        RETURN;
    END IF;
    -- The capture's row is locked until the transaction ends: refunds of one capture run one
    -- at a time, so their sum cannot pass the captured amount.
    SELECT * INTO cap FROM operations c
    WHERE c.id = p_capture_id AND c.kind = 'capture' FOR UPDATE;
    IF NOT FOUND THEN
        answer_status := 404;
        body := psp_refusal('capture_not_found', format('No such capture: %L', p_capture_id));
    ELSE
        SELECT coalesce(sum(r.amount_minor), 0) INTO refunded
        FROM operations r WHERE r.capture_id = p_capture_id AND r.kind = 'refund';
        -- Partial refunds may follow one another while their sum stays within the capture.
        IF p_amount_minor > cap.amount_minor - refunded THEN
            answer_status := 422;
            body := psp_refusal('refund_exceeds_capture',
                                format('Cannot refund %s: capture %s has %s of %s left to refund',
                                       p_amount_minor, cap.id,
                                       cap.amount_minor - refunded, cap.amount_minor));
        ELSE
            INSERT INTO operations (id, kind, idempotency_key, reference, authorization_id,
                                    capture_id, amount_minor, currency, status)
            VALUES (p_id, 'refund', p_key, p_reference, cap.authorization_id,
                    p_capture_id, p_amount_minor, cap.currency, 'refunded')
            RETURNING created_at INTO created;
            body := jsonb_build_object(
                'id', p_id, 'capture_id', p_capture_id, 'amount_minor', p_amount_minor,
                'currency', cap.currency, 'status', 'refunded',
                'created_at', psp_timestamp(created));
        END IF;
    END IF;
    SELECT * INTO result, status_code, outcome, operation_id, response
    FROM psp_answer(p_key, answer_status, body);
END $$
""",
]

# Newest first: a function is dropped before the ones it calls.
NAMES = [
    "psp_refund",
    "psp_void",
    "psp_capture",
    "psp_authorize",
    "psp_refuse",
    "psp_held_authorization",
    "psp_timestamp",
    "psp_refusal",
    "psp_answer",
    "psp_replay",
    "psp_claim_key",
]


def upgrade() -> None:
    for function in FUNCTIONS:
        op.execute(function)


def downgrade() -> None:
    for name in NAMES:
        op.execute(f"DROP FUNCTION {name}")
