// Runs one query on Parquet files with an independent reader and prints the
// result as JSON on stdout, for tests/integration/*.py to compare.
//   node query.mjs duckdb "SQL"           rows of a DuckDB query
//   node query.mjs hyparquet FILE         every row of FILE read by hyparquet
// BigInt values print as strings (JSON has no 64-bit integers), byte arrays
// as lowercase hex.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

function plain(value) {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'duckdb') {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const reader = await conn.runAndReadAll(arg);
  process.stdout.write(JSON.stringify(reader.getRowObjectsJson()));
} else if (mode === 'hyparquet') {
  const buf = readFileSync(arg);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const rows = await parquetReadObjects({ file, compressors, utf8: true });
  process.stdout.write(JSON.stringify(plain(rows)));
} else {
  process.stderr.write('usage: node query.mjs duckdb SQL | hyparquet FILE\n');
  process.exit(2);
}
