-- PostgreSQL fixture, part 2 of 3: rows present before the connector starts,
-- so the initial snapshot reads them (op "r").
SET client_encoding = 'UTF8';
SET TimeZone = 'UTC';

-- 1: ordinary values of every type.
INSERT INTO all_types VALUES (1,
  true, -32768, 2147483647, -9223372036854775808, 4000000000,
  1.5, 3.141592653589793,
  123456789.125, 9999999999, 0.1000000000000000000000000001, '1234.56',
  E'Grüezi "Welt"\n\ttab \\ backslash', 'vc', 'unbounded varchar', 'ab', 'q', 'nm', 'CiText',
  '\xdeadbeef', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50]}', '{"b": {"c": null}}', '<a>b</a>', 'k1 => v1, "k 2" => NULL', 'Top.Science.Astronomy',
  '2024-02-29', '23:59:59.999999', '12:34:56.789+02', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.12+01',
  '1 year 2 mons 3 days 04:05:06.78', '1 year 2 mons', '1 day 00:00:01.2345',
  '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
  B'1', B'1010000001', B'101', B'1100110011001100110',
  'happy', 42, '(1.5,2)', '[1,10)', '[1.5,2.5]', '[2024-01-01 00:00:00+00,2024-02-01 00:00:00+00)',
  'a fat cat sat on a mat',
  '{1,NULL,3}', '{9223372036854775807,-1}', '{"a b","c\"d",NULL,"NULL"}', '{x,yy}', '{1.10,-2.5}',
  '{1.5,-0.25}', '{true,false,NULL}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{2024-01-01,2000-02-29}', '{"2024-01-01 00:00:00+00"}',
  '{sad,happy}', '{{1,2},{3,4}}');

-- 2: special values: NaN and infinities, extremes, empty values, BC dates.
INSERT INTO all_types VALUES (2,
  false, 32767, -2147483648, 9223372036854775807, 0,
  'NaN', '-Infinity',
  -0.001, -9999999999, 'NaN', '-0.99',
  '', '', '', '', '', '', '',
  '\x', '00000000-0000-0000-0000-000000000000', '[]', '{}', '<x/>', '', '',
  'infinity', '00:00:00', '00:00:00-14', 'infinity', '-infinity',
  '-1 days +02:00:00', '-1 year', '-00:00:00.001',
  '::1', '::/0', 'ff:ff:ff:ff:ff:ff', 'ff:ff:ff:ff:ff:ff:ff:ff',
  B'0', B'0000000000', B'', B'',
  'sad', 1, '(-1e+300,1e-300)', 'empty', '(,)', '[-infinity,infinity]',
  '',
  '{}', '{}', '{}', '{}', '{}',
  '{}', '{}', '{}', '{}', '{}',
  '{}', '{}');

-- 3: the other infinities and the far past.
INSERT INTO all_types (id, c_float4, c_float8, c_numeric_free, c_money, c_date, c_time, c_timetz, c_timestamp, c_timestamptz, c_interval)
VALUES (3, 'Infinity', 'Infinity', 'Infinity', '-92233720368547758.08', '-infinity', '24:00:00', '24:00:00-15:59', '-infinity', 'infinity', '178000000 years');
INSERT INTO all_types (id, c_float4, c_float8, c_numeric_free, c_date, c_timestamp, c_timestamptz, c_interval)
VALUES (4, '-Infinity', '-0', '-Infinity', '0044-03-15 BC', '0044-03-15 12:34:56.789012 BC', '0001-01-01 00:00:00+00 BC', '-178000000 years');

-- 5: every column NULL.
INSERT INTO all_types (id) VALUES (5);

-- 6-10: intervals with microseconds, whose MicroDuration Debezium computes in
-- doubles (PGInterval seconds, 30.4375-day months) and truncates, which can
-- be a microsecond below the exact value.
INSERT INTO all_types (id, c_interval) VALUES
  (6, '00:00:00.000249'), (7, '00:00:01.000001'), (8, '-00:00:00.000249'),
  (9, '1 day 00:00:00.000007'), (10, '-1 mons 3 days 04:05:06.000049');

-- The same instant in every precision: each column rounds it to its typmod.
INSERT INTO time_precisions SELECT 1, t, t, t, t, t, t, t, t, tz, tz, tz, tz, tz, tz, tz, tz, ts, ts, ts, ts, ts, ts, ts, ts, tstz, tstz, tstz, tstz, tstz, tstz, tstz, tstz
  FROM (VALUES ('23:59:59.999999'::time, '23:59:59.999999+05:30'::timetz, '2024-02-29 23:59:59.999999'::timestamp, '2024-02-29 23:59:59.999999+05:30'::timestamptz)) v(t, tz, ts, tstz);
INSERT INTO time_precisions SELECT 2, t, t, t, t, t, t, t, t, tz, tz, tz, tz, tz, tz, tz, tz, ts, ts, ts, ts, ts, ts, ts, ts, tstz, tstz, tstz, tstz, tstz, tstz, tstz, tstz
  FROM (VALUES ('00:00:00.123456'::time, '00:00:00.123456-01'::timetz, '1969-12-31 23:59:59.123456'::timestamp, '1969-12-31 23:59:59.123456-01'::timestamptz)) v(t, tz, ts, tstz);
INSERT INTO time_precisions SELECT 3, t, t, t, t, t, t, t, t, tz, tz, tz, tz, tz, tz, tz, tz, ts, ts, ts, ts, ts, ts, ts, ts, tstz, tstz, tstz, tstz, tstz, tstz, tstz, tstz
  FROM (VALUES ('12:00:00.5'::time, '12:00:00.5+00'::timetz, 'infinity'::timestamp, '-infinity'::timestamptz)) v(t, tz, ts, tstz);
INSERT INTO time_precisions (id) VALUES (4);

-- TOAST: four values of about 2-3 KB each, all stored out of line.
INSERT INTO toast VALUES (1, 1, repeat('sluice toast ', 170), decode(repeat('deadbeef', 560), 'hex'),
  (SELECT jsonb_agg(i) FROM generate_series(1, 500) i), ARRAY(SELECT generate_series(1, 600)), ARRAY(SELECT 'e' || i FROM generate_series(1, 300) i));
INSERT INTO toast_full VALUES (1, 1, repeat('sluice toast ', 170), decode(repeat('deadbeef', 560), 'hex'),
  (SELECT jsonb_agg(i) FROM generate_series(1, 500) i), ARRAY(SELECT generate_series(1, 600)), ARRAY(SELECT 'e' || i FROM generate_series(1, 300) i));

INSERT INTO rid_default VALUES (1, 'one', 1), (2, 'two', 2);
INSERT INTO rid_full VALUES (1, 'one', 1), (2, 'two', 2);
INSERT INTO nopk_full VALUES (1, 'one'), (2, 'two');
INSERT INTO composite VALUES (1, 'b1', 10, 'v1'), (2, 'b2', 20, 'v2');
INSERT INTO trunc VALUES (1, 'one'), (2, 'two');
