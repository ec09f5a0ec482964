// A deliberately weak express-session app, a target for "latch audit" tests.
//
// express-session with its defaults (the in-process MemoryStore, cookie
// connect.sid with HttpOnly but neither Secure nor SameSite, no expiry),
// signed with the secret of express-session's README example, served over
// plain HTTP, with no new session ID at login. Every weakness is planted on
// purpose and listed in expect.json.
//
//     node app.js PORT
//
// Users: alice / wonderland. POST /login, GET /me (200 or 401), POST /logout.
'use strict';

const crypto = require('node:crypto');
const express = require('express');
const session = require('express-session');

const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(session({
  // Planted: the README's example secret, kept in the code.
  secret: 'keyboard cat',
  resave: false,
  saveUninitialized: true,
}));

const FORM = '<!DOCTYPE html><title>expressweak</title><form method="post" action="/login">' +
  '<input name="username"><input name="password" type="password"><button>Log in</button></form>';

function passwordOK(got) {
  const a = Buffer.from(String(got || ''));
  const b = Buffer.from('wonderland');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

app.get('/', (req, res) => {
  req.session.visits = (req.session.visits || 0) + 1;
  res.send(FORM);
});

app.get('/login', (req, res) => res.send(FORM));

app.post('/login', (req, res) => {
  if (req.body.username !== 'alice' || !passwordOK(req.body.password)) {
    res.status(401).send('bad credentials');
    return;
  }
  // Planted: no req.session.regenerate() at login.
  req.session.user = 'alice';
  res.redirect(303, '/me');
});

app.get('/me', (req, res) => {
  if (!req.session.user) {
    res.status(401).json({ error: 'not logged in' });
    return;
  }
  res.json({ user: req.session.user });
});

app.post('/logout', (req, res, next) => {
  req.session.destroy((err) => {
    if (err) {
      next(err);
      return;
    }
    res.clearCookie('connect.sid');
    res.redirect(303, '/');
  });
});

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node app.js PORT');
  process.exit(2);
}
app.listen(port, '127.0.0.1', () => console.log(`expressweak on 127.0.0.1:${port}`));
