#!/usr/bin/python3
"""A small Flask application for scripts/flask-roundtrip.

    SECRET_KEY=... [SECRET_KEY_FALLBACKS=old1,old2] app.py PORTFILE

It listens on 127.0.0.1 on a free port, writes the port to PORTFILE once it
accepts connections, and serves:

    /login?user=NAME  sets session["user"] (default "alice"), answers 200
    /me               200 and {"user": NAME} when the session has a user,
                      401 otherwise

SECRET_KEY_FALLBACKS lists older keys that still verify, newest first, as in
Flask 3.1's setting of that name; older Flask releases get the same
behaviour from itsdangerous's key rotation (a list of keys, newest last).
"""

import os
import sys

import flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.serving import make_server


class FallbackSessionInterface(SecureCookieSessionInterface):
    """Signs with SECRET_KEY, verifies with it and then each fallback."""

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or []
        keys = [*reversed(fallbacks), app.secret_key]
        return URLSafeTimedSerializer(
            keys,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )


def create_app():
    app = flask.Flask(__name__)
    secret = os.environ.get("SECRET_KEY", "")
    if not secret:
        sys.exit("app.py: SECRET_KEY is not set")
    app.secret_key = secret
    fallbacks = [k for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k]
    app.config["SECRET_KEY_FALLBACKS"] = fallbacks
    app.session_interface = FallbackSessionInterface()

    @app.route("/login", methods=["GET", "POST"])
    def login():
        flask.session["user"] = flask.request.values.get("user", "alice")
        return "logged in\n"

    @app.route("/me")
    def me():
        user = flask.session.get("user")
        if not user:
            return flask.jsonify(error="not logged in"), 401
        return flask.jsonify(user=user)

    return app


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: app.py PORTFILE")
    server = make_server("127.0.0.1", 0, create_app())
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_port))
    os.replace(tmp, sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
