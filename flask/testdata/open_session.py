#!/usr/bin/python3
"""Asks real Flask whether it accepts session cookies, for flask_test.go.

    open_session.py < cases.json

cases.json is {"secret_key": KEY, "lifetime_seconds": N, "cases": [{"cookie":
COOKIE, "now": UNIX_SECONDS}, ...]}. Each cookie is opened by Flask's own
SecureCookieSessionInterface.open_session (as a request context opens it), with PERMANENT_SESSION_LIFETIME
set to N seconds and itsdangerous's clock set to "now". One line of JSON is
printed: a list with, per case, "accepted" (the session holds the cookie's
data), "refused" (Flask answered with an empty session) or "error: NAME"
(Flask raised exception NAME, which a Flask application answers with 500).
"""

import json
import sys
from datetime import timedelta

import flask
from itsdangerous.timed import TimestampSigner


def main():
    spec = json.load(sys.stdin)
    app = flask.Flask(__name__)
    app.secret_key = spec["secret_key"]
    app.permanent_session_lifetime = timedelta(seconds=spec["lifetime_seconds"])
    results = []
    for case in spec["cases"]:
        now = case["now"]
        TimestampSigner.get_timestamp = lambda self, now=now: now
        headers = {"Cookie": app.config["SESSION_COOKIE_NAME"] + "=" + case["cookie"]}
        try:
            # Pushing the request context opens the session, as Flask
            # does for every request.
            with app.test_request_context("/", headers=headers):
                accepted = bool(flask.session)
        except Exception as exc:  # Flask would answer 500
            results.append("error: " + type(exc).__name__)
            continue
        results.append("accepted" if accepted else "refused")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
