// SPDX-License-Identifier: BSD-2-Clause
//
// read.mjs - reads Parquet files with two independent readers, DuckDB
// (@duckdb/node-api) and hyparquet, and prints what each saw as one JSON
// document on stdout, for tests/integration/test_parquet_readers.py.
//
// Usage: node read.mjs FILE...
//
// Values are printed in the notation of tests/oracle/parquet_tool.c so the
// test can compare them with what it asked tapir to write: null, booleans,
// integers and timestamps (microseconds) as decimal strings, text as text,
// binary as lowercase hex. Nothing is rounded: 64-bit values stay BigInt
// until printed. A reader that throws is reported as {"error": "..."} for
// that file rather than ending the run, so the test names the reader.

import { readFileSync } from 'node:fs';
import { DuckDBInstance, DuckDBBlobValue, DuckDBTimestampTZValue, DuckDBTimestampValue } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// One value in the common notation.
function norm(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint' || typeof v === 'number') return v.toString();
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return hex(v);
  if (v instanceof DuckDBBlobValue) return hex(v.bytes);
  if (v instanceof DuckDBTimestampTZValue || v instanceof DuckDBTimestampValue) return v.micros.toString();
  if (typeof v === 'object' && 'us' in v) return v.us;
  return { unexpected: String(v) };
}

// JSON.stringify that keeps BigInt (as decimal strings).
function toJson(x) {
  return JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}

function sqlString(s) {
  return `'${s.replaceAll("'", "''")}'`;
}

async function withDuckdb(con, file) {
  const f = sqlString(file);
  const out = {};
  let r = await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${f})`);
  out.describe = r.getRowObjectsJson().map((x) => [x.column_name, x.column_type]);
  r = await con.runAndReadAll(`SELECT * FROM read_parquet(${f})`);
  out.rows = r.getRows().map((row) => row.map(norm));
  r = await con.runAndReadAll(
    `SELECT row_group_id, row_group_num_rows, path_in_schema, type, num_values,
            compression, encodings, dictionary_page_offset, data_page_offset,
            stats_null_count, stats_min_value, stats_max_value
       FROM parquet_metadata(${f}) ORDER BY row_group_id, column_id`);
  out.metadata = r.getRowObjectsJson();
  r = await con.runAndReadAll(`SELECT created_by, num_rows, num_row_groups, format_version FROM parquet_file_metadata(${f})`);
  out.file = r.getRowObjectsJson()[0];
  r = await con.runAndReadAll(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${f}) ORDER BY key`);
  out.kv = r.getRowObjectsJson();
  return out;
}

async function withHyparquet(file) {
  const buf = readFileSync(file);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const md = parquetMetadata(ab);
  const names = md.schema.slice(1).map((e) => e.name);
  const objects = await parquetReadObjects({
    file: ab,
    compressors,
    utf8: false, // unannotated BYTE_ARRAY stays binary (the HLL columns)
    parsers: { timestampFromMicroseconds: (us) => ({ us: us.toString() }) },
  });
  return {
    schema: md.schema.map((e) => ({
      name: e.name,
      type: e.type ?? null,
      repetition_type: e.repetition_type ?? null,
      converted_type: e.converted_type ?? null,
      logical_type: e.logical_type ?? null,
      num_children: e.num_children ?? null,
    })),
    num_rows: md.num_rows,
    created_by: md.created_by ?? null,
    row_groups: md.row_groups.length,
    kv: (md.key_value_metadata ?? []).map((x) => [x.key, x.value ?? null]),
    rows: objects.map((o) => names.map((n) => norm(o[n]))),
  };
}

async function main() {
  const files = process.argv.slice(2);
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  // Timestamps come back as micros; the zone only matters for stats text.
  await con.run("SET TimeZone = 'UTC'");
  const result = {};
  for (const file of files) {
    const entry = {};
    try {
      entry.duckdb = await withDuckdb(con, file);
    } catch (e) {
      entry.duckdb = { error: String(e && e.message ? e.message : e) };
    }
    try {
      entry.hyparquet = await withHyparquet(file);
    } catch (e) {
      entry.hyparquet = { error: String(e && e.message ? e.message : e) };
    }
    result[file] = entry;
  }
  process.stdout.write(toJson(result) + '\n');
}

await main();
