// Counts the SQL statements a process sends through `pg`, by database and statement, and writes
// them to <os tmpdir>/pg-queries-<pid>.txt when the process exits. For the round trips per
// command of a connector (the bench passes only BENCH_NODE_OPTIONS on to the service):
// BENCH_NODE_OPTIONS="--require $PWD/bench/count-pg-queries.cjs" npm run bench -- connector-postgres --runs 1
'use strict';
const { writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const pg = require(join(__dirname, '..', 'node_modules', 'pg'));

const counts = new Map();
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (q, ...rest) {
  const text = typeof q === 'string' ? q : q && q.text;
  const db = (this.connectionParameters && this.connectionParameters.database) || '?';
  const key = `${db} | ${String(text).replace(/\s+/g, ' ').slice(0, 80)}`;
  counts.set(key, (counts.get(key) || 0) + 1);
  return query.call(this, q, ...rest);
};
process.on('exit', () => {
  const lines = [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${String(n).padStart(7)} ${k}`);
  writeFileSync(join(tmpdir(), `pg-queries-${process.pid}.txt`), `${lines.join('\n')}\n`);
});
