-- PostgreSQL outbox fixture, part 1 of 3: the outbox table, with Debezium's
-- default column names for the outbox EventRouter
-- (io.debezium.transforms.outbox.EventRouter) and one extra column, tenant,
-- that scripts/debezium.sh routes into a header
-- (table.fields.additional.placement=tenant:header:tenantId).
-- Used by the SMT modes outbox and outbox-jsonb-expand only.
SET client_encoding = 'UTF8';
SET TimeZone = 'UTC';

CREATE TABLE outbox (
  id uuid PRIMARY KEY,
  aggregatetype varchar(255) NOT NULL,
  aggregateid varchar(255) NOT NULL,
  type varchar(255) NOT NULL,
  payload jsonb,
  tenant text
);
