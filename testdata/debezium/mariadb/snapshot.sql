-- MariaDB fixture, part 2 of 3: rows present before the connector starts,
-- so the initial snapshot reads them (op "r"). The session runs in UTC+05:00:
-- TIMESTAMP literals are instants in that zone, DATETIMEs are wall clocks.
SET NAMES utf8mb4;
SET SESSION sql_mode = '';
SET SESSION time_zone = '+05:00';

-- 1: ordinary values and the extremes of every type.
INSERT INTO all_types VALUES (1,
  -128, 255, 1, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
  12345678901234.567890, -0.05, 9999999999, 12345678901234567890123456789012345.123456789012345678901234567890,
  1.1, 3.141592653589793,
  b'1', b'101000000001', b'1000000000000000000000000000000000000000000000000000000000000001',
  'ab', 'Grüezi "q"', 'text\nline \\ backslash', 'tiny', 'medium', 'long',
  'Grüezi', 'Привет', '😀',
  0x01020304, 0xdeadbeef, 'blob', 0x00, 0xff00, 'long blob',
  'large', 'red,blue',
  '{"a": [1, 2.5], "b": null}',
  '2024-02-29', '1000-01-01', '-838:59:59', '9999-12-31 23:59:59', '1000-01-01 00:00:00',
  '2024-01-02 08:04:05', 2024,
  ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POINT(1 2)', 4326), ST_GeomFromText('LINESTRING(0 0,1 1,2 0)'),
  ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('MULTIPOINT(0 0,1 1)'),
  ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))'));

-- 2: the other extremes; zero and empty values.
INSERT INTO all_types VALUES (2,
  127, 0, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
  -99999999999999.999999, 999.99, -9999999999, -0.000000000000000000000000000001,
  -0.0, -1.7976931348623157e308,
  b'0', b'000000000000', b'1111111111111111111111111111111111111111111111111111111111111111',
  '', '', '', '', '', '',
  '', '', '',
  0x00000000, '', '', '', '', '',
  '', '',
  '{}',
  '9999-12-31', '9999-12-31', '838:59:59', '1000-01-01 00:00:00', '9999-12-31 23:59:59',
  '1970-01-01 05:00:01', 1901,
  ST_GeomFromText('POINT(0 0)'), ST_GeomFromText('POINT(-1.5 1e-300)'), NULL, NULL, NULL, NULL);

-- 3: zero dates (sql_mode ''). YEAR 0 is not here but in stream.sql: Debezium
-- 3.6.1's snapshot dies on it (the MariaDB JDBC driver's YearColumn calls
-- java.sql.Date.valueOf("0000-01-01"): IllegalArgumentException).
INSERT INTO all_types (id, dt, dtnn, tm, dtm, dtmnn, ts)
VALUES (3, '0000-00-00', '0000-00-00', '00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00');

-- 4: every nullable column NULL.
INSERT INTO all_types (id) VALUES (4);

INSERT INTO time_precisions VALUES (1,
  '12:34:56.123456', '12:34:56.123456', '12:34:56.123456', '12:34:56.123456', '12:34:56.123456', '12:34:56.123456', '12:34:56.123456',
  '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999',
  '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.999999',
  '2038-01-19 08:14:07.999999', '2038-01-19 08:14:07.999999', '2038-01-19 08:14:07.999999', '2038-01-19 08:14:07.999999',
  '2038-01-19 08:14:07.999999', '2038-01-19 08:14:07.999999', '2038-01-19 08:14:07.999999');
INSERT INTO time_precisions VALUES (2,
  '-00:00:00.5', '-00:00:00.5', '-00:00:00.5', '-00:00:00.5', '-00:00:00.5', '-00:00:00.5', '-00:00:00.5',
  '1969-12-31 23:59:59.5', '1969-12-31 23:59:59.5', '1969-12-31 23:59:59.5', '1969-12-31 23:59:59.5',
  '1969-12-31 23:59:59.5', '1969-12-31 23:59:59.5', '1969-12-31 23:59:59.5',
  '1970-01-01 05:00:01.000001', '1970-01-01 05:00:01.000001', '1970-01-01 05:00:01.000001', '1970-01-01 05:00:01.000001',
  '1970-01-01 05:00:01.000001', '1970-01-01 05:00:01.000001', '1970-01-01 05:00:01.000001');
INSERT INTO time_precisions (id) VALUES (3);

INSERT INTO unsigned_key VALUES (18446744073709551615, 'max'), (9223372036854775808, '2^63'), (0, 'zero');
INSERT INTO composite VALUES (1, 'b1', 10, 'v1'), (2, 'b2', 20, 'v2');
INSERT INTO rid VALUES (1, 'one', 1), (2, 'two', 2);
INSERT INTO nopk VALUES (1, 'one'), (2, 'two');
INSERT INTO trunc VALUES (1, 'one'), (2, 'two');
