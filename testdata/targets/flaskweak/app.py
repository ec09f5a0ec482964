"""A deliberately weak Flask app, a target for "latch audit" tests.

Flask's default client-side session, signed with a guessable SECRET_KEY,
served over plain HTTP with Flask's default cookie attributes. Every
weakness is planted on purpose and listed in expect.json.

    /usr/bin/python3 app.py PORT

Users: alice / wonderland. POST /login, GET /me (200 or 401), POST /logout.
"""
import sys

from flask import Flask, jsonify, redirect, request, session

app = Flask(__name__)
# Planted: a weak, well-known key. Anyone who guesses it can forge sessions.
app.config["SECRET_KEY"] = "changeme"


@app.get("/")
def home():
    return ('<!DOCTYPE html><title>flaskweak</title><form method="post" action="/login">'
            '<input name="username"><input name="password" type="password"><button>Log in</button></form>')


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return home()
    if request.form.get("username") != "alice" or request.form.get("password") != "wonderland":
        return "bad credentials", 401
    session["user"] = "alice"
    return redirect("/me", code=303)


@app.get("/me")
def me():
    user = session.get("user")
    if not user:
        return jsonify(error="not logged in"), 401
    return jsonify(user=user)


@app.post("/logout")
def logout():
    # Planted (inherent to client-side sessions): clearing the cookie does
    # not invalidate copies of it.
    session.clear()
    return redirect("/", code=303)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
