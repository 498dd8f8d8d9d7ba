"""The operation functions with their hot path written out in each (the key's claim, the
authorization's state, the stored answer), instead of calls of helper functions: each such call
was a query of its own inside the function (a plan, an executor, a function scan), about a third
of the database's CPU per operation. The rules, codes and answers are those of 0003; the helpers
left are called only when a key is used again (`psp_replay`) or for a refusal's body.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ANSWER = (
    "OUT result text, OUT status_code int, OUT outcome text, OUT operation_id text, "
    "OUT response text"
)

# Claims the key for this transaction, or answers from the row already holding it. A twin in
# flight holds the uncommitted key row: the insert waits for it to finish, then conflicts, and
# the next statement (a new snapshot) reads what the twin stored. If the twin rolled back, this
# one claims the key.
CLAIM = """
    INSERT INTO idempotency_keys (key, fingerprint) VALUES (p_key, p_fingerprint)
    ON CONFLICT (key) DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO result, status_code, outcome, operation_id, response
        FROM psp_replay((SELECT k FROM idempotency_keys k WHERE k.key = p_key), p_fingerprint);
        RETURN;
    END IF;
"""

# Stores the answer under the key this transaction claimed: a retry replays it. Refusals are
# stored too, as Stripe does, so a retry cannot turn a refused capture into a success.
STORE = """
    UPDATE idempotency_keys SET status_code = answer_status, response = body WHERE key = p_key;
    result := 'performed';
    status_code := answer_status;
    response := body::text;
"""

# An authorization as its ledger rows show it, its row locked until the transaction ends:
# captures and voids of one authorization run one at a time, so their sum cannot pass the
# authorized amount. auth_id is NULL when there is no such authorization.
HOLD_AUTHORIZATION = """
    SELECT a.id, a.status, a.amount_minor, a.currency
    INTO auth_id, auth_status, auth_amount, auth_currency
    FROM operations a WHERE a.id = p_authorization_id AND a.kind = 'authorization' FOR UPDATE;
    IF auth_id IS NOT NULL THEN
        SELECT coalesce(sum(o.amount_minor) FILTER (WHERE o.kind = 'capture'), 0),
               count(*) FILTER (WHERE o.kind = 'void') > 0
        INTO captured, voided
        FROM operations o WHERE o.authorization_id = p_authorization_id;
        auth_state := CASE WHEN voided THEN 'voided' WHEN captured > 0 THEN 'captured'
                           ELSE auth_status END;
    END IF;
"""

AUTHORIZATION_VARIABLES = """
    auth_id text;
    auth_status text;
    auth_amount bigint;
    auth_currency text;
    auth_state text;
    captured bigint;
    voided boolean;
"""

FUNCTIONS = [
    f"""
CREATE OR REPLACE FUNCTION psp_refuse(
    p_key text, p_fingerprint text, p_status int, p_code text, p_message text, {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
    answer_status int := p_status;
    body jsonb := psp_refusal(p_code, p_message);
BEGIN
{CLAIM}
    outcome := p_code;
{STORE}
END $$
""",
    f"""
CREATE OR REPLACE FUNCTION psp_authorize(
    p_key text, p_fingerprint text, p_id text, p_amount_minor bigint, p_currency text,
    p_reference text, p_status text, p_decline_code text, p_decline_reason text, {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
    answer_status int := 201;
    body jsonb;
BEGIN
{CLAIM}
    INSERT INTO operations (id, kind, idempotency_key, reference, authorization_id,
                            amount_minor, currency, status, decline_code, decline_reason)
    VALUES (p_id, 'authorization', p_key, p_reference, p_id,
            p_amount_minor, p_currency, p_status, p_decline_code, p_decline_reason);
    body := jsonb_build_object(
        'id', p_id, 'status', p_status, 'amount_minor', p_amount_minor,
        'currency', p_currency, 'reference', p_reference,
        'decline_code', p_decline_code, 'decline_reason', p_decline_reason);
    outcome := p_status;
    operation_id := p_id;
{STORE}
END $$
""",
    f"""
CREATE OR REPLACE FUNCTION psp_capture(
    p_key text, p_fingerprint text, p_id text, p_authorization_id text, p_amount_minor bigint,
    p_reference text, {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
{AUTHORIZATION_VARIABLES}
    answer_status int := 201;
    body jsonb;
BEGIN
{CLAIM}
{HOLD_AUTHORIZATION}
    -- Partial captures may follow one another while their sum stays within the hold.
    IF auth_id IS NULL THEN
        answer_status := 404;
        outcome := 'authorization_not_found';
        body := psp_refusal(outcome, format('No such authorization: %L', p_authorization_id));
    ELSIF auth_state NOT IN ('authorized', 'captured') THEN
        answer_status := 409;
        outcome := 'authorization_not_capturable';
        body := psp_refusal(outcome, format('Authorization %s is %s; it cannot be captured',
                                            auth_id, auth_state));
    ELSIF p_amount_minor > auth_amount - captured THEN
        answer_status := 409;
        outcome := 'amount_exceeds_authorization';
        body := psp_refusal(outcome, format('Cannot capture %s: authorization %s has %s of %s '
                                            'left to capture', p_amount_minor, auth_id,
                                            auth_amount - captured, auth_amount));
    ELSE
        INSERT INTO operations (id, kind, idempotency_key, reference, authorization_id,
                                amount_minor, currency, status)
        VALUES (p_id, 'capture', p_key, p_reference, p_authorization_id,
                p_amount_minor, auth_currency, 'succeeded');
        body := jsonb_build_object(
            'id', p_id, 'authorization_id', p_authorization_id, 'amount_minor', p_amount_minor,
            'reference', p_reference, 'status', 'succeeded');
        outcome := 'succeeded';
        operation_id := p_id;
    END IF;
{STORE}
END $$
""",
    f"""
CREATE OR REPLACE FUNCTION psp_void(
    p_key text, p_fingerprint text, p_id text, p_authorization_id text, p_reference text,
    {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
{AUTHORIZATION_VARIABLES}
    answer_status int := 201;
    body jsonb;
BEGIN
{CLAIM}
{HOLD_AUTHORIZATION}
    IF auth_id IS NULL THEN
        answer_status := 404;
        outcome := 'authorization_not_found';
        body := psp_refusal(outcome, format('No such authorization: %L', p_authorization_id));
    ELSIF auth_state <> 'authorized' THEN
        answer_status := 409;
        outcome := 'authorization_not_voidable';
        body := psp_refusal(outcome, format('Authorization %s is %s; it cannot be voided',
                                            auth_id, auth_state));
    ELSE
        INSERT INTO operations (id, kind, idempotency_key, reference, authorization_id,
                                currency, status)
        VALUES (p_id, 'void', p_key, p_reference, p_authorization_id, auth_currency, 'succeeded');
        body := jsonb_build_object(
            'id', p_id, 'authorization_id', p_authorization_id, 'status', 'succeeded');
        outcome := 'succeeded';
        operation_id := p_id;
    END IF;
{STORE}
END $$
""",
    f"""
CREATE OR REPLACE FUNCTION psp_refund(
    p_key text, p_fingerprint text, p_id text, p_capture_id text, p_amount_minor bigint,
    p_reference text, {ANSWER}
)
LANGUAGE plpgsql AS $$
DECLARE
    cap_id text;
    cap_amount bigint;
    cap_currency text;
    cap_authorization_id text;
    refunded bigint;
    answer_status int := 201;
    body jsonb;
    created timestamptz;
BEGIN
{CLAIM}
    -- The capture's row is locked until the transaction ends: refunds of one capture run one
    -- at a time, so their sum cannot pass the captured amount.
    SELECT c.id, c.amount_minor, c.currency, c.authorization_id
    INTO cap_id, cap_amount, cap_currency, cap_authorization_id
    FROM operations c WHERE c.id = p_capture_id AND c.kind = 'capture' FOR UPDATE;
    IF cap_id IS NULL THEN
        answer_status := 404;
        outcome := 'capture_not_found';
        body := psp_refusal(outcome, format('No such capture: %L', p_capture_id));
    ELSE
        SELECT coalesce(sum(r.amount_minor), 0) INTO refunded
        FROM operations r WHERE r.capture_id = p_capture_id AND r.kind = 'refund';
        -- Partial refunds may follow one another while their sum stays within the capture.
        IF p_amount_minor > cap_amount - refunded THEN
            answer_status := 422;
            outcome := 'refund_exceeds_capture';
            body := psp_refusal(outcome, format('Cannot refund %s: capture %s has %s of %s left '
                                                'to refund', p_amount_minor, cap_id,
                                                cap_amount - refunded, cap_amount));
        ELSE
            INSERT INTO operations (id, kind, idempotency_key, reference, authorization_id,
                                    capture_id, amount_minor, currency, status)
            VALUES (p_id, 'refund', p_key, p_reference, cap_authorization_id,
                    p_capture_id, p_amount_minor, cap_currency, 'refunded')
            RETURNING created_at INTO created;
            body := jsonb_build_object(
                'id', p_id, 'capture_id', p_capture_id, 'amount_minor', p_amount_minor,
                'currency', cap_currency, 'status', 'refunded',
                'created_at', psp_timestamp(created));
            outcome := 'refunded';
            operation_id := p_id;
        END IF;
    END IF;
{STORE}
END $$
""",
]

# No longer called: their work is written out in the functions above.
UNUSED = ["psp_held_authorization", "psp_answer", "psp_claim_key"]


def upgrade() -> None:
    for function in FUNCTIONS:
        op.execute(function)
    for name in UNUSED:
        op.execute(f"DROP FUNCTION {name}")


def downgrade() -> None:
    # 0003's functions, as it created them: its helpers first, then the operations calling them.
    from importlib import import_module

    previous = import_module("psp_sim.migrations.versions.0003_operations_in_one_round_trip")
    helpers = {"psp_claim_key", "psp_answer", "psp_held_authorization"}
    for function in previous.FUNCTIONS:
        name = function.split("FUNCTION ", 1)[1].split("(", 1)[0]
        if name in helpers:
            op.execute(function)
    for function in previous.FUNCTIONS:
        name = function.split("FUNCTION ", 1)[1].split("(", 1)[0]
        if name not in helpers and name not in {"psp_replay", "psp_refusal", "psp_timestamp"}:
            op.execute(function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
