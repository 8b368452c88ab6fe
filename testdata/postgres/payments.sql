-- The payments table of the PostgreSQL-source tests, docs and benchmark.
CREATE TABLE payments (
    payment_id  bigint PRIMARY KEY,
    customer_id text NOT NULL,
    amount      numeric(18,2) NOT NULL,
    currency    text NOT NULL,
    status      text NOT NULL,
    details     jsonb,
    tags        text[],
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_updated_at ON payments (updated_at);
