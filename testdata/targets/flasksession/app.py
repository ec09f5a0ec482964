"""A reasonably hardened Flask app, a target for "latch audit" tests.

Server-side sessions with Flask-Session (filesystem), served over HTTPS
with HSTS, a plain-HTTP listener that only redirects, a __Host- cookie with
Secure, HttpOnly and SameSite=Lax, a new session ID at login, server-side
logout, and short idle and absolute timeouts so a test can wait them out.
expect.json lists what the auditor must find: no failure.

    /usr/bin/python3 app.py HTTPS_PORT HTTP_PORT CERT KEY SESSION_DIR

Users: alice / wonderland. POST /login, GET /me (200 or 401), POST /logout.
"""
import os
import secrets
import sys
import threading
import time
from datetime import timedelta

from flask import Flask, jsonify, redirect, request, session
from flask_session import Session
from werkzeug.serving import make_server

IDLE = timedelta(seconds=int(os.environ.get("IDLE_SECONDS", "4")))
ABSOLUTE = int(os.environ.get("ABSOLUTE_SECONDS", "8"))

app = Flask(__name__)
app.config.update(
    SECRET_KEY=secrets.token_bytes(32),
    SESSION_TYPE="filesystem",
    SESSION_FILE_DIR=sys.argv[5] if len(sys.argv) > 5 else "flask_session",
    SESSION_PERMANENT=True,
    PERMANENT_SESSION_LIFETIME=IDLE,
    SESSION_REFRESH_EACH_REQUEST=True,
    SESSION_COOKIE_NAME="__Host-session",
    SESSION_COOKIE_SECURE=True,
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_PATH="/",
)
Session(app)

FORM = ('<!DOCTYPE html><title>flasksession</title><form method="post" action="/login">'
        '<input name="username"><input name="password" type="password"><button>Log in</button></form>')


def regenerate():
    """Flask-Session 0.3 has no regenerate call: delete the old record and
    give the session a fresh random ID before it is saved."""
    iface = app.session_interface
    iface.cache.delete(iface.key_prefix + session.sid)
    session.clear()
    session.sid = iface._generate_sid()


@app.before_request
def absolute_timeout():
    auth = session.get("auth_at")
    if auth is not None and time.time() - auth > ABSOLUTE:
        session.clear()  # Flask-Session deletes the record when the session empties


@app.after_request
def harden(resp):
    resp.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains; preload"
    return resp


def samesite_lax(wsgi_app):
    """Flask-Session 0.3 cannot set SameSite, and it saves the session after
    every after_request hook, so the attribute is added at the WSGI layer."""
    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            headers = [(k, v + "; SameSite=Lax") if k.lower() == "set-cookie" and "samesite" not in v.lower() else (k, v)
                       for k, v in headers]
            return start_response(status, headers, exc_info)
        return wsgi_app(environ, start)
    return wrapped


app.wsgi_app = samesite_lax(app.wsgi_app)


@app.get("/")
def home():
    # A pre-login session exists, so the fixation check has a token to replay.
    session.setdefault("visits", 0)
    session["visits"] += 1
    return FORM


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return FORM
    if request.form.get("username") != "alice" or not secrets.compare_digest(request.form.get("password", ""), "wonderland"):
        return "bad credentials", 401
    regenerate()
    session["user"] = "alice"
    session["auth_at"] = time.time()
    return redirect("/me", code=303)


@app.get("/me")
def me():
    user = session.get("user")
    if not user:
        return jsonify(error="not logged in"), 401
    return jsonify(user=user)


@app.post("/logout")
def logout():
    session.clear()
    return redirect("/", code=303)


def redirector(https_port):
    def app_(environ, start_response):
        host = environ.get("HTTP_HOST", "127.0.0.1").split(":")[0]
        path = environ.get("PATH_INFO", "/")
        start_response("301 Moved Permanently", [("Location", "https://%s:%d%s" % (host, https_port, path)),
                                                 ("Content-Length", "0")])
        return [b""]
    return app_


if __name__ == "__main__":
    https_port, http_port = int(sys.argv[1]), int(sys.argv[2])
    plain = make_server("127.0.0.1", http_port, redirector(https_port), threaded=True)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    make_server("127.0.0.1", https_port, app, threaded=True, ssl_context=(sys.argv[3], sys.argv[4])).serve_forever()
