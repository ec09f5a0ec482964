// Produces express_vectors.json: session cookies set by the real
// express-session middleware (which signs with cookie-signature), for the
// audit's express tests. Run from the repository root after installing the
// expressweak target's pinned packages:
//
//   (cd testdata/targets/expressweak && npm ci --no-audit --no-fund)
//   NODE_PATH=testdata/targets/expressweak/node_modules \
//     node cmd/latch/internal/audit/testdata/express_vectors.js \
//     > cmd/latch/internal/audit/testdata/express_vectors.json
'use strict';

const http = require('node:http');
const session = require('express-session');
const signature = require('cookie-signature');

// Each case fixes the session ID through express-session's genid option,
// so the vectors are reproducible.
const cases = [
  { name: 'readme-secret', secret: 'keyboard cat', id: 'jEK9xhoaEARArmodIGT_qYW6ztySZkh1' },
  { name: 'uid-safe-dash', secret: 'keyboard cat', id: '-_0aZ9-_0aZ9-_0aZ9-_0aZ9-_0aZ9-_' },
  { name: 'rotated-secrets', secret: ['s3cr3t-new', 'keyboard cat'], id: 'Wq8n1cVd3m0n3yWq8n1cVd3m0n3yWq8n' },
  { name: 'utf8-secret', secret: 'clé secrète ☃', id: 'r4nd0mR4nd0mr4nd0mR4nd0mr4nd0mR4' },
  { name: 'custom-name', secret: 'changeme', id: 'abcdefghijklmnopqrstuvwxyzABCDEF', cookieName: 'sid' },
];

function cookieFor(c) {
  return new Promise((resolve, reject) => {
    const mw = session({
      secret: c.secret,
      name: c.cookieName || 'connect.sid',
      resave: false,
      saveUninitialized: true,
      genid: () => c.id,
    });
    const srv = http.createServer((req, res) => {
      mw(req, res, (err) => {
        if (err) {
          res.statusCode = 500;
        }
        res.end('ok');
      });
    });
    srv.listen(0, '127.0.0.1', () => {
      http.get({ host: '127.0.0.1', port: srv.address().port, path: '/' }, (res) => {
        res.resume();
        srv.close();
        const sc = (res.headers['set-cookie'] || [])[0] || '';
        const value = sc.split(';')[0].slice(sc.indexOf('=') + 1);
        resolve(value);
      }).on('error', reject);
    });
  });
}

(async () => {
  const out = [];
  for (const c of cases) {
    const value = await cookieFor(c);
    const first = Array.isArray(c.secret) ? c.secret[0] : c.secret;
    // Cross-check against cookie-signature directly.
    if (decodeURIComponent(value) !== 's:' + signature.sign(c.id, first)) {
      throw new Error(c.name + ': express-session and cookie-signature disagree');
    }
    out.push({ name: c.name, key: first, id: c.id, cookie: value });
  }
  // Other values signed with cookie-signature, as cookie-parser signs
  // res.cookie(name, value, { signed: true }).
  for (const [name, key, val] of [['cookie-parser-json', 'keyboard cat', 'j:{"user":"alice"}'], ['empty-value', 'keyboard cat', '']]) {
    out.push({ name, key, id: val, cookie: encodeURIComponent('s:' + signature.sign(val, key)) });
  }
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
