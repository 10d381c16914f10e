"""Files written by tapir's Parquet writer, read by independent readers.

The acceptance test of lib/parquet: DuckDB (@duckdb/node-api) and hyparquet
must read every file we write, with the exact reference histogram schema
(edm-spec §3.5: 26 columns, names, order, types, nullability) and every
value we wrote. The tables are described here in JSON; the oracle driver
tests/oracle/parquet_tool (built by lib/parquet/meson.build, found at
$TAPIR_PARQUET_TOOL or $TAPIR_BUILD_ROOT/lib/parquet/parquet_tool) writes
them with tapir's writer and dumps them with tapir's reader; tests/node/read.mjs
reads them with both other readers. Every value is compared, as are the
schema annotations, row groups, dictionary pages and statistics that DuckDB's
parquet_metadata() reports.

Needs node and tests/node/node_modules (scripts/install-deps.sh runs npm ci);
exits 77 (skipped) without them.
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SOURCE_ROOT = os.environ.get('TAPIR_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD_ROOT = os.environ.get('TAPIR_BUILD_ROOT', os.path.join(SOURCE_ROOT, 'build'))
TOOL = os.environ.get('TAPIR_PARQUET_TOOL', os.path.join(BUILD_ROOT, 'lib', 'parquet', 'parquet_tool'))
NODE_DIR = os.path.join(SOURCE_ROOT, 'tests', 'node')
READ_MJS = os.path.join(NODE_DIR, 'read.mjs')

if not os.access(TOOL, os.X_OK):
    harness.skip(f'{TOOL} is not built')
if shutil.which('node') is None:
    harness.skip('node is not installed (scripts/install-deps.sh installs it)')
if not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', '@duckdb', 'node-api')) or \
        not os.path.isdir(os.path.join(NODE_DIR, 'node_modules', 'hyparquet')):
    harness.skip('tests/node/node_modules is missing (scripts/install-deps.sh runs npm ci)')

U64_MAX = 2**64 - 1


# ---- schemas ----------------------------------------------------------------

def col(name, ptype, logical='NONE', bits=0, signed=False, optional=False):
    return {'name': name, 'type': ptype, 'logical': logical, 'bits': bits,
            'signed': signed, 'optional': optional}


COUNT_COLUMNS = ['a_count', 'aaaa_count', 'mx_count', 'ns_count', 'other_type_count',
                 'non_in_count', 'ok_count', 'nx_count', 'fail_count', 'other_rcode_count',
                 'edm_status_bits', 'v4client_count', 'v6client_count']

# edm-spec §3.5, in order.
HISTOGRAM = ([col('start_time', 'INT64', 'TIMESTAMP_MICROS')]
             + [col(f'label{i}', 'BYTE_ARRAY', 'STRING', optional=True) for i in range(10)]
             + [col(n, 'INT64', 'INT', 64, False) for n in COUNT_COLUMNS]
             + [col('v4client_count_hll', 'BYTE_ARRAY', optional=True),
                col('v6client_count_hll', 'BYTE_ARRAY', optional=True)])

HISTOGRAM_DUCKDB = ([('start_time', 'TIMESTAMP WITH TIME ZONE')]
                    + [(f'label{i}', 'VARCHAR') for i in range(10)]
                    + [(n, 'UBIGINT') for n in COUNT_COLUMNS]
                    + [('v4client_count_hll', 'BLOB'), ('v6client_count_hll', 'BLOB')])

ALLTYPES = [
    col('b', 'BOOLEAN'),
    col('b_opt', 'BOOLEAN', optional=True),
    col('i32', 'INT32'),
    col('i32_opt', 'INT32', optional=True),
    col('i8', 'INT32', 'INT', 8, True),
    col('u8', 'INT32', 'INT', 8, False),
    col('i16', 'INT32', 'INT', 16, True),
    col('u16', 'INT32', 'INT', 16, False, optional=True),
    col('i32s', 'INT32', 'INT', 32, True),
    col('u32', 'INT32', 'INT', 32, False),
    col('i64', 'INT64'),
    col('i64s', 'INT64', 'INT', 64, True, optional=True),
    col('u64', 'INT64', 'INT', 64, False, optional=True),
    col('ts', 'INT64', 'TIMESTAMP_MICROS', optional=True),
    col('s', 'BYTE_ARRAY', 'STRING', optional=True),
    col('s_req', 'BYTE_ARRAY', 'STRING'),
    col('bin', 'BYTE_ARRAY', optional=True),
]

ALLTYPES_DUCKDB = [
    ('b', 'BOOLEAN'), ('b_opt', 'BOOLEAN'), ('i32', 'INTEGER'), ('i32_opt', 'INTEGER'),
    ('i8', 'TINYINT'), ('u8', 'UTINYINT'), ('i16', 'SMALLINT'), ('u16', 'USMALLINT'),
    ('i32s', 'INTEGER'), ('u32', 'UINTEGER'), ('i64', 'BIGINT'), ('i64s', 'BIGINT'),
    ('u64', 'UBIGINT'), ('ts', 'TIMESTAMP WITH TIME ZONE'), ('s', 'VARCHAR'),
    ('s_req', 'VARCHAR'), ('bin', 'BLOB'),
]


# ---- rows ---------------------------------------------------------------------

def histogram_rows():
    """Rows as the edge writes them: presentation-form labels with escapes
    (r\\195\\164ksm), the empty label of a wildcard entry, NULL labels, HLL
    bytes only for some rows, counts up to 2^64-1."""
    t0 = 1727374440123456  # 2024-09-26T18:14:00.123456Z, not minute-aligned
    hll = '136a430b847515505c217306c21b486e63c9c7912fb040'  # edm-spec §3.3
    names = [
        ['se', 'r\\195\\164ksm'],
        ['net', 'example', ''],                      # .example.net. wildcard
        ['com', 'example', 'www'],
        [],                                          # root: all NULL
        ['com', 'l', 'k', 'j', 'i', 'h', 'g', 'f', 'e', 'd.c.b.a'],
        ['org', 'a\\.b', 'x\\032y'],
    ]
    rows = []
    for i, labels in enumerate(names * 3):
        counts = [str(i * 13 + k) for k in range(len(COUNT_COLUMNS))]
        counts[COUNT_COLUMNS.index('edm_status_bits')] = str(1 + i % 2)
        if i % 6 == 1:
            counts[0] = str(U64_MAX)                  # ≥ 2^63 must not turn negative
            counts[1] = str(2**63)
            counts[2] = str(2**63 - 1)
        row = [str(t0 + 60_000_000 * (i // 6) + i)]
        row += [labels[k] if k < len(labels) else None for k in range(10)]
        row += counts
        row += [hll if i % 3 == 0 else None, ('ff' * 40 + '00') if i % 4 == 0 else None]
        rows.append(row)
    return rows


def alltypes_rows():
    rows = [
        [True, None, '0', None, '0', '0', '0', None, '0', '0', '0', None, None, None, None, '', None],
        [False, True, str(-2**31), str(2**31 - 1), '-128', '255', '-32768', '65535',
         str(-2**31), str(2**32 - 1), str(-2**63), str(2**63 - 1), str(U64_MAX),
         '-1', '', 'x', ''],
        [True, False, str(2**31 - 1), str(-2**31), '127', '0', '32767', '0',
         str(2**31 - 1), '0', str(2**63 - 1), str(-2**63), '0',
         '0', 'räksmörgås ✓ 😀', 'r\\195\\164ksm', '00ff00ff'],
        [False, None, '-1', '7', '-1', '128', '-1', '32768', '-1', str(2**31),
         '-1', '-1', str(2**63), str(253402300799999999), 'NULL', 'null', '6e756c6c'],
    ]
    for i in range(40):
        rows.append([i % 3 == 0, None if i % 5 == 0 else i % 2 == 0, str(i * 1000 - 20000),
                     None if i % 7 == 0 else str(i), str(i - 20), str(i * 6), str(i * 800 - 16000),
                     None if i % 2 else str(i * 1600), str(i * 100000), str(i * 100000000),
                     str(i * 10**15), None if i % 3 else str(-i), None if i % 4 == 1 else str(2**64 - 1 - i),
                     str(1727374440000000 + i * 1000001), None if i % 6 == 0 else f'value {i % 4}',
                     f'req {i % 3}', None if i % 2 else bytes([i, 255 - i, 0]).hex()])
    return rows


def spec(columns, rows, **opts):
    s = {'columns': columns, 'rows': rows}
    s.update(opts)
    return s


# Histogram files get this key/value metadata (and so a checked footer list).
KV = {'tapir.dataset': 'histogram', 'tapir.note': 'räksmörgås'}

SPECS = {
    'histogram.parquet': spec(HISTOGRAM, histogram_rows(), kv=KV),
    'histogram-zstd.parquet': spec(HISTOGRAM, histogram_rows(), codec='zstd'),
    'histogram-plain.parquet': spec(HISTOGRAM, histogram_rows(), no_dictionary=True, codec='none'),
    'alltypes-snappy.parquet': spec(ALLTYPES, alltypes_rows()),
    'alltypes-zstd.parquet': spec(ALLTYPES, alltypes_rows(), codec='zstd'),
    'alltypes-none.parquet': spec(ALLTYPES, alltypes_rows(), codec='none', no_dictionary=True),
    # Two row groups, labels repeating: dictionary pages in each.
    'two-row-groups.parquet': spec(HISTOGRAM, histogram_rows(), row_group_rows=10),
    'empty.parquet': spec(HISTOGRAM, []),
    # Values past the 1 MiB page target: several data pages in one chunk.
    'big-strings.parquet': spec([col('id', 'INT64'), col('text', 'BYTE_ARRAY', 'STRING', optional=True)],
                                [[str(i), None if i == 2 else chr(0x61 + i) * (700_000 + i)]
                                 for i in range(5)], codec='zstd'),
}


def ts_text(us):
    """DuckDB's text for a TIMESTAMPTZ statistic in UTC."""
    dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
    frac = f'.{dt.microsecond:06d}'.rstrip('0') if dt.microsecond else ''
    return dt.strftime('%Y-%m-%d %H:%M:%S') + frac + '+00'


class ParquetReadersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='tapir-parquet-')
        cls.paths = {}
        cls.ours = {}
        for name, s in SPECS.items():
            spec_path = os.path.join(cls.tmp, name + '.json')
            with open(spec_path, 'w') as f:
                json.dump(s, f)
            out = os.path.join(cls.tmp, name)
            subprocess.run([TOOL, 'write', spec_path, out], check=True, timeout=60)
            cls.paths[name] = out
            dump = subprocess.run([TOOL, 'dump', out], check=True, timeout=60,
                                  capture_output=True, text=True)
            cls.ours[name] = json.loads(dump.stdout)
        proc = subprocess.run(['node', READ_MJS] + list(cls.paths.values()), cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise AssertionError(f'read.mjs failed: {proc.stderr}')
        seen = json.loads(proc.stdout)
        cls.seen = {name: seen[path] for name, path in cls.paths.items()}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def reader(self, name, which):
        got = self.seen[name][which]
        self.assertNotIn('error', got, f'{which} failed on {name}: {got.get("error")}')
        return got

    def assert_rows(self, name, which):
        rows = self.reader(name, which)['rows'] if which != 'tapir' else self.ours[name]['rows']
        want = SPECS[name]['rows']
        self.assertEqual(len(rows), len(want), f'{which}: row count of {name}')
        for i, (got, exp) in enumerate(zip(rows, want)):
            self.assertEqual(got, exp, f'{which}: {name} row {i}')

    # -- every file, every reader, every value --

    def test_every_file_every_reader_reads_every_value(self):
        for name in SPECS:
            for which in ('duckdb', 'hyparquet', 'tapir'):
                with self.subTest(file=name, reader=which):
                    self.assert_rows(name, which)

    # -- the reference histogram schema --

    def test_histogram_duckdb_describe_is_the_reference_schema(self):
        for name in ('histogram.parquet', 'histogram-zstd.parquet', 'histogram-plain.parquet',
                     'two-row-groups.parquet', 'empty.parquet'):
            with self.subTest(file=name):
                got = [tuple(x) for x in self.reader(name, 'duckdb')['describe']]
                self.assertEqual(got, HISTOGRAM_DUCKDB)

    def test_histogram_annotations_seen_by_hyparquet(self):
        schema = self.reader('histogram.parquet', 'hyparquet')['schema']
        self.assertEqual(schema[0]['num_children'], 26)
        leaves = schema[1:]
        self.assertEqual([e['name'] for e in leaves], [c['name'] for c in HISTOGRAM])
        ts = leaves[0]
        self.assertEqual((ts['type'], ts['repetition_type'], ts['converted_type']),
                         ('INT64', 'REQUIRED', 'TIMESTAMP_MICROS'))
        self.assertEqual(ts['logical_type'], {'type': 'TIMESTAMP', 'isAdjustedToUTC': True, 'unit': 'MICROS'})
        for e in leaves[1:11]:
            self.assertEqual((e['type'], e['repetition_type'], e['converted_type'], e['logical_type']),
                             ('BYTE_ARRAY', 'OPTIONAL', 'UTF8', {'type': 'STRING'}), e['name'])
        for e in leaves[11:24]:
            self.assertEqual((e['type'], e['repetition_type'], e['converted_type'], e['logical_type']),
                             ('INT64', 'REQUIRED', 'UINT_64',
                              {'type': 'INTEGER', 'bitWidth': 64, 'isSigned': False}), e['name'])
        for e in leaves[24:]:
            self.assertEqual((e['type'], e['repetition_type'], e['converted_type'], e['logical_type']),
                             ('BYTE_ARRAY', 'OPTIONAL', None, None), e['name'])

    def test_alltypes_duckdb_types(self):
        for name in ('alltypes-snappy.parquet', 'alltypes-zstd.parquet', 'alltypes-none.parquet'):
            with self.subTest(file=name):
                got = [tuple(x) for x in self.reader(name, 'duckdb')['describe']]
                self.assertEqual(got, ALLTYPES_DUCKDB)

    def test_our_reader_sees_the_schema_we_wrote(self):
        for name, s in SPECS.items():
            with self.subTest(file=name):
                got = self.ours[name]['columns']
                want = [dict(c, bits=c['bits'] if c['logical'] == 'INT' else 0,
                             signed=c['signed'] if c['logical'] == 'INT' else False)
                        for c in s['columns']]
                self.assertEqual(got, want)

    # -- footer facts --

    def test_created_by_and_key_value_metadata(self):
        meta = self.reader('histogram.parquet', 'duckdb')
        self.assertTrue(meta['file']['created_by'].startswith('tapir '), meta['file'])
        self.assertEqual(meta['file']['num_rows'], str(len(SPECS['histogram.parquet']['rows'])))
        self.assertEqual({x['key']: x['value'] for x in meta['kv']}, KV)
        hyp = self.reader('histogram.parquet', 'hyparquet')
        self.assertEqual(hyp['created_by'], meta['file']['created_by'])
        self.assertEqual(dict(hyp['kv']), KV)
        self.assertEqual(self.ours['histogram.parquet']['kv'], KV)
        self.assertEqual(self.ours['histogram.parquet']['created_by'], meta['file']['created_by'])

    def test_empty_file_is_valid(self):
        for which in ('duckdb', 'hyparquet'):
            got = self.reader('empty.parquet', which)
            self.assertEqual(got['rows'], [])
        self.assertEqual(self.reader('empty.parquet', 'duckdb')['file']['num_row_groups'], '0')
        self.assertEqual(self.ours['empty.parquet']['num_rows'], 0)

    # -- row groups, dictionaries, codecs --

    def test_two_row_groups_with_dictionary_pages(self):
        md = self.reader('two-row-groups.parquet', 'duckdb')['metadata']
        groups = sorted({m['row_group_id'] for m in md})
        self.assertEqual(groups, ['0', '1'])
        self.assertEqual([next(m['row_group_num_rows'] for m in md if m['row_group_id'] == g)
                          for g in groups], ['10', '8'])
        self.assertEqual(self.reader('two-row-groups.parquet', 'hyparquet')['row_groups'], 2)
        for g in groups:
            label0 = next(m for m in md if m['row_group_id'] == g and m['path_in_schema'] == 'label0')
            self.assertIn('RLE_DICTIONARY', label0['encodings'])
            self.assertIsNotNone(label0['dictionary_page_offset'])
            self.assertLess(int(label0['dictionary_page_offset']), int(label0['data_page_offset']))
            ts = next(m for m in md if m['row_group_id'] == g and m['path_in_schema'] == 'start_time')
            self.assertNotIn('RLE_DICTIONARY', ts['encodings'])
            self.assertIsNone(ts['dictionary_page_offset'])

    def test_plain_only_file_has_no_dictionary(self):
        md = self.reader('histogram-plain.parquet', 'duckdb')['metadata']
        for m in md:
            self.assertNotIn('RLE_DICTIONARY', m['encodings'], m['path_in_schema'])
            self.assertEqual(m['compression'], 'UNCOMPRESSED')

    def test_codecs_as_asked(self):
        want = {'histogram.parquet': 'SNAPPY', 'histogram-zstd.parquet': 'ZSTD',
                'alltypes-none.parquet': 'UNCOMPRESSED', 'big-strings.parquet': 'ZSTD'}
        for name, codec in want.items():
            with self.subTest(file=name):
                md = self.reader(name, 'duckdb')['metadata']
                self.assertEqual({m['compression'] for m in md}, {codec})

    # -- statistics --

    def expected_stats(self, name, group_rows):
        """Per row group and column: (null_count, min, max) as DuckDB prints
        them, computed from the rows we wrote."""
        s = SPECS[name]
        rows = s['rows']
        out = []
        for g in range(0, len(rows), group_rows):
            chunk = rows[g:g + group_rows]
            for c, column in enumerate(s['columns']):
                vals = [r[c] for r in chunk if r[c] is not None]
                nulls = len(chunk) - len(vals)
                if not vals:
                    out.append((str(nulls), None, None))
                    continue
                if column['type'] == 'BYTE_ARRAY':
                    if column['logical'] == 'STRING':
                        keys = [v.encode() for v in vals]
                        lo, hi = min(keys).decode(), max(keys).decode()
                    else:
                        lo = hi = None  # DuckDB prints BLOB stats escaped
                elif column['type'] == 'BOOLEAN':
                    lo, hi = str(min(vals)).lower(), str(max(vals)).lower()
                else:
                    nums = [int(v) for v in vals]
                    lo, hi = min(nums), max(nums)
                    if column['logical'] == 'TIMESTAMP_MICROS':
                        lo, hi = ts_text(lo), ts_text(hi)
                    else:
                        lo, hi = str(lo), str(hi)
                out.append((str(nulls), lo, hi))
        return out

    def check_stats(self, name, group_rows):
        md = self.reader(name, 'duckdb')['metadata']
        want = self.expected_stats(name, group_rows)
        self.assertEqual(len(md), len(want))
        for m, (nulls, lo, hi) in zip(md, want):
            where = f'{name} row group {m["row_group_id"]} {m["path_in_schema"]}'
            self.assertEqual(m['stats_null_count'], nulls, where)
            if lo is None and nulls != m['row_group_num_rows']:
                continue
            self.assertEqual((m['stats_min_value'], m['stats_max_value']), (lo, hi), where)

    def test_statistics_in_parquet_metadata(self):
        # Unsigned columns order as unsigned (2^64-1 is the max, not -1),
        # signed as signed, strings byte-wise, all-NULL chunks carry no
        # min/max but their null count.
        self.check_stats('histogram.parquet', 1 << 30)
        self.check_stats('two-row-groups.parquet', 10)
        self.check_stats('alltypes-snappy.parquet', 1 << 30)

    def test_big_strings_span_several_pages(self):
        md = self.reader('big-strings.parquet', 'duckdb')['metadata']
        text = next(m for m in md if m['path_in_schema'] == 'text')
        self.assertEqual(text['stats_null_count'], '1')
        # Over STATS_VALUE_MAX: min/max are left out rather than bloat the footer.
        self.assertIsNone(text['stats_min_value'])


if __name__ == '__main__':
    harness.main()
