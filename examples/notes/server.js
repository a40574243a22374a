// A tiny notes service: POST /notes stores a note in PostgreSQL, GET /notes
// lists them, GET /health answers once the database does. Configured from
// the environment: HOST, PORT, DATABASE_URL.
'use strict';

const http = require('http');
const { Pool } = require('pg');

const host = process.env.HOST || '0.0.0.0';
const port = Number(process.env.PORT || 3000);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 4 });

async function migrate() {
  await pool.query('CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL, ' +
                   'created timestamptz NOT NULL DEFAULT now())');
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.url === '/health') {
      await pool.query('SELECT 1');
      return send(res, 200, { ok: true });
    }
    if (req.url === '/notes' && req.method === 'POST') {
      const body = (await readBody(req, 64 * 1024)).trim();
      if (!body)
        return send(res, 400, { error: 'empty note' });
      const { rows } = await pool.query('INSERT INTO notes (body) VALUES ($1) RETURNING id, body', [body]);
      return send(res, 201, rows[0]);
    }
    if (req.url === '/notes' && req.method === 'GET') {
      const { rows } = await pool.query('SELECT id, body FROM notes ORDER BY id');
      return send(res, 200, rows);
    }
    return send(res, 404, { error: 'not found' });
  } catch (e) {
    return send(res, 503, { error: e.message });
  }
});

async function main() {
  // The database may still be starting: retry the migration for a while.
  for (let i = 0;; i++) {
    try {
      await migrate();
      break;
    } catch (e) {
      if (i >= 60)
        throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  server.listen(port, host, () => console.log(`notes listening on ${host}:${port}`));
}

process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
