-- MariaDB fixture, part 1 of 3: the tables, made in a fresh database `dbz`
-- (created by scripts/debezium.sh). testdata/golden/debezium/README.md says
-- how the three files are run (one session, autocommit, statement by
-- statement, in order).
-- sql_mode '' allows the zero dates the fixtures insert; SET NAMES utf8mb4
-- because a client's default may be utf8mb3, which turns the emoji into ????.
SET NAMES utf8mb4;
SET SESSION sql_mode = '';

-- One column per type sluice decodes (source/mysql/types.go, values.go).
-- MariaDB's JSON is an alias of LONGTEXT with a json_valid() CHECK.
CREATE TABLE all_types (
  id int PRIMARY KEY,
  ti tinyint, tiu tinyint unsigned, b1 tinyint(1), si smallint, siu smallint unsigned,
  mi mediumint, miu mediumint unsigned, i int, iu int unsigned, bi bigint, biu bigint unsigned,
  d decimal(20,6), dneg decimal(5,2), d0 decimal(10,0), dbig decimal(65,30),
  f float, dbl double,
  bit1 bit(1), bit12 bit(12), bit64 bit(64),
  c char(5), vc varchar(50), t text, tt tinytext, mt mediumtext, lt longtext,
  lat varchar(20) CHARACTER SET latin1, cyr varchar(20) CHARACTER SET cp1251, emoji varchar(20) CHARACTER SET utf8mb4,
  bn binary(4), vb varbinary(10), bl blob, tb tinyblob, mb mediumblob, lb longblob,
  e enum('small','medium','large'), st set('red','green','blue'),
  j json,
  dt date, dtnn date NOT NULL DEFAULT '2000-01-01', tm time, dtm datetime, dtmnn datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  ts timestamp NULL, y year,
  g geometry, pt point, ls linestring, poly polygon, mpt multipoint, gc geometrycollection
);

-- Fractional-second precisions 0..6 of TIME, DATETIME and TIMESTAMP.
CREATE TABLE time_precisions (
  id int PRIMARY KEY,
  t0 time(0), t1 time(1), t2 time(2), t3 time(3), t4 time(4), t5 time(5), t6 time(6),
  dt0 datetime(0), dt1 datetime(1), dt2 datetime(2), dt3 datetime(3), dt4 datetime(4), dt5 datetime(5), dt6 datetime(6),
  ts0 timestamp(0) NULL, ts1 timestamp(1) NULL, ts2 timestamp(2) NULL, ts3 timestamp(3) NULL,
  ts4 timestamp(4) NULL, ts5 timestamp(5) NULL, ts6 timestamp(6) NULL
);

-- A BIGINT UNSIGNED key (values above 2^63 - 1).
CREATE TABLE unsigned_key (id bigint unsigned PRIMARY KEY, v varchar(20));

-- Composite key declared (c, a) while the columns are declared a, b, c:
-- shows which order the key fields take.
CREATE TABLE composite (a int, b varchar(10), c int, v varchar(20), PRIMARY KEY (c, a));

-- insert, update, primary-key change, delete; ALTERed while streaming.
CREATE TABLE rid (id int PRIMARY KEY, name varchar(20), n int);

-- No primary key: Debezium's key is null.
CREATE TABLE nopk (a int, b varchar(10));

-- TRUNCATE target (Debezium skips truncates unless skipped.operations
-- leaves 't' out: see the skipped-none mode).
CREATE TABLE trunc (id int PRIMARY KEY, v varchar(10));

-- stream.sql ends with one insert here; the recorder waits for it.
CREATE TABLE end_marker (id int PRIMARY KEY);
