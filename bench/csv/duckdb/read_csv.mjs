// DuckDB's parallel CSV reader into an in-memory table, for bench/csv/run.
// usage: node read_csv.mjs FILE THREADS  -> prints "rows SECONDS"
import { DuckDBInstance } from '@duckdb/node-api';

const [file, threads] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:', { threads: String(threads || 2) });
const con = await db.connect();
const t0 = process.hrtime.bigint();
await con.run(`CREATE TABLE t AS SELECT * FROM read_csv('${file.replace(/'/g, "''")}', header = true)`);
const t1 = process.hrtime.bigint();
const r = await con.runAndReadAll('SELECT count(*) FROM t');
console.log(`${r.getRows()[0][0]} ${(Number(t1 - t0) / 1e9).toFixed(3)}`);
