-- PostgreSQL fixture, part 1 of 3: the tables, made in a fresh database
-- (`dbz`, created by scripts/debezium.sh). testdata/golden/debezium/README.md
-- says how the three files are run (one session, autocommit, statement by
-- statement, in order).
--
-- The extensions hstore, citext and ltree ship with Debian's postgresql-15
-- (contrib); Debezium maps them specially (hstore as JSON by default, ltree
-- as io.debezium.data.Ltree). c_2d, a two-dimensional array, is something
-- Debezium 3.6.1 does not support: it logs "Unexpected value for JDBC type"
-- and writes one null per row of the array.
CREATE EXTENSION hstore;
CREATE EXTENSION citext;
CREATE EXTENSION ltree;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);

-- One column per type sluice decodes (source/postgres/types.go, catalog.go).
CREATE TABLE all_types (
  id int PRIMARY KEY,
  c_bool bool, c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
  c_float4 float4, c_float8 float8,
  c_numeric numeric(12,3), c_numeric0 numeric(10,0), c_numeric_free numeric, c_money money,
  c_text text, c_varchar varchar(20), c_varchar_free varchar, c_char char(4), c_qchar "char", c_name name, c_citext citext,
  c_bytea bytea, c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml, c_hstore hstore, c_ltree ltree,
  c_date date, c_time time, c_timetz timetz, c_timestamp timestamp, c_timestamptz timestamptz,
  c_interval interval, c_interval_ym interval year to month, c_interval3 interval(3),
  c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
  c_bit1 bit(1), c_bit bit(10), c_varbit varbit(16), c_varbit_free varbit,
  c_enum mood, c_domain posint, c_point point, c_int4range int4range, c_numrange numrange, c_tstzrange tstzrange,
  c_tsvector tsvector,
  c_int_arr int4[], c_int8_arr int8[], c_text_arr text[], c_varchar_arr varchar(10)[], c_num_arr numeric[],
  c_float_arr float8[], c_bool_arr bool[], c_uuid_arr uuid[], c_date_arr date[], c_ts_arr timestamptz[],
  c_enum_arr mood[], c_2d int4[][]
);

-- Fractional-second precisions 0..6 (and unconstrained) of every time type.
CREATE TABLE time_precisions (
  id int PRIMARY KEY,
  t0 time(0), t1 time(1), t2 time(2), t3 time(3), t4 time(4), t5 time(5), t6 time(6), t time,
  tz0 timetz(0), tz1 timetz(1), tz2 timetz(2), tz3 timetz(3), tz4 timetz(4), tz5 timetz(5), tz6 timetz(6), tz timetz,
  ts0 timestamp(0), ts1 timestamp(1), ts2 timestamp(2), ts3 timestamp(3), ts4 timestamp(4), ts5 timestamp(5), ts6 timestamp(6), ts timestamp,
  tstz0 timestamptz(0), tstz1 timestamptz(1), tstz2 timestamptz(2), tstz3 timestamptz(3), tstz4 timestamptz(4), tstz5 timestamptz(5), tstz6 timestamptz(6), tstz timestamptz
);

-- TOAST: STORAGE EXTERNAL keeps the ~3 KB values uncompressed and out of
-- line, so an UPDATE that does not touch them sends them as "unchanged
-- TOAST" ('u') in pgoutput: Debezium writes its placeholder
-- __debezium_unavailable_value under REPLICA IDENTITY DEFAULT.
CREATE TABLE toast (id int PRIMARY KEY, n int, big_text text, big_bytea bytea, big_jsonb jsonb, big_arr int4[], big_text_arr text[]);
ALTER TABLE toast ALTER big_text SET STORAGE EXTERNAL, ALTER big_bytea SET STORAGE EXTERNAL,
  ALTER big_jsonb SET STORAGE EXTERNAL, ALTER big_arr SET STORAGE EXTERNAL, ALTER big_text_arr SET STORAGE EXTERNAL;
CREATE TABLE toast_full (id int PRIMARY KEY, n int, big_text text, big_bytea bytea, big_jsonb jsonb, big_arr int4[], big_text_arr text[]);
ALTER TABLE toast_full ALTER big_text SET STORAGE EXTERNAL, ALTER big_bytea SET STORAGE EXTERNAL,
  ALTER big_jsonb SET STORAGE EXTERNAL, ALTER big_arr SET STORAGE EXTERNAL, ALTER big_text_arr SET STORAGE EXTERNAL;
ALTER TABLE toast_full REPLICA IDENTITY FULL;

-- Updates and deletes under REPLICA IDENTITY DEFAULT (before = key only, or
-- null) and FULL (before = whole old row).
CREATE TABLE rid_default (id int PRIMARY KEY, name text, n int);
CREATE TABLE rid_full (id int PRIMARY KEY, name text, n int);
ALTER TABLE rid_full REPLICA IDENTITY FULL;

-- No primary key, REPLICA IDENTITY FULL: Debezium's key is null.
CREATE TABLE nopk_full (a int, b text);
ALTER TABLE nopk_full REPLICA IDENTITY FULL;

-- Composite key declared (c, a) while the columns are declared a, b, c:
-- shows which order the key fields take.
CREATE TABLE composite (a int, b text, c int, v text, PRIMARY KEY (c, a));

-- TRUNCATE target (Debezium skips truncates unless skipped.operations
-- leaves 't' out: see the skipped-none mode).
CREATE TABLE trunc (id int PRIMARY KEY, v text);

-- stream.sql ends with one insert here; the recorder waits for it.
CREATE TABLE end_marker (id int PRIMARY KEY);
