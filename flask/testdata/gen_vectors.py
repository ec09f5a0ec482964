#!/usr/bin/python3
"""Generate flask/testdata/vectors.json and zlib.json with the real Flask.

Run with Debian's python3 (python3-flask installed):

    /usr/bin/python3 flask/testdata/gen_vectors.py

vectors.json holds session cookies that Flask's own session interface
issues for fixed data at a fixed timestamp; the Go tests decode each one and
check that Encode reproduces it byte for byte. zlib.json holds the length
and SHA-256 of zlib.compress(data) for inputs that both this script and the
Go test derive from the same deterministic generator, so the Go deflate
encoder can be checked against the C zlib that itsdangerous uses.
"""

import datetime
import hashlib
import json
import os
import sys
import uuid
import zlib

import flask
import itsdangerous
from itsdangerous import timed
from markupsafe import Markup

FIXED_TS = 1700000000

here = os.path.dirname(os.path.abspath(__file__))


def cookie(secret, data):
    app = flask.Flask("gen")
    app.secret_key = secret
    with app.app_context():
        s = app.session_interface.get_signing_serializer(app)
        return s.dumps(data)


def tagged_json(secret, data):
    app = flask.Flask("gen")
    app.secret_key = secret
    with app.app_context():
        return app.session_interface.serializer.dumps(data)


CASES = [
    ("plain", "dev", {"user": "alice"}),
    ("empty", "dev", {}),
    ("scalars", "changeme", {
        "n": 42, "neg": -3, "zero": 0, "big": 2 ** 70,
        "f": 1.5, "third": 1 / 3, "e16": 1e16, "e15": 1e15, "small": 1e-05,
        "tiny": 0.0001, "negf": -2.5e-300, "whole": 3.0,
        "ok": True, "no": False, "none": None,
        "list": [1, "two", [3, []]], "obj": {},
    }),
    ("sorting", "secret", {"b": 1, "a": 2, "B": 3, "_": 4, " ": 5, "\u00e9": 6, "aa": 7, "a b": 8}),
    ("unicode", "secret", {
        "name": "Zo\u00eb \u2603 \U0001F600",
        "ctl": "a\"b\\c\n\r\t\b\f\x01\x1f\x7f</script>&'",
    }),
    ("tuple", "secret", {"t": (1, "a", (2, 3), ())}),
    ("bytes", "secret", {"b": b"\x00\xffhello", "empty": b""}),
    ("datetime", "secret", {"when": datetime.datetime(2024, 5, 7, 8, 30, 45, tzinfo=datetime.timezone.utc)}),
    ("uuid", "secret", {"id": uuid.UUID("12345678-1234-5678-9abc-def012345678")}),
    ("markup", "secret", {"html": Markup("<b>hi</b> &amp; bye")}),
    ("tagdict", "secret", {"d": {" t": "x"}, "e": {" di": {" u": 1}}}),
    ("toplevel_tagdict", "secret", {" b": "not bytes"}),
    ("nested", "secret", {
        "nested": {"a": {"b": [(1, 2), {" u": 5}, b"x", [Markup("<i>")]]}},
        "_flashes": [("message", "Welcome back"), ("error", "Oops")],
    }),
    ("flask_login", "super secret key", {
        "_fresh": True, "_id": "a" * 128, "_user_id": "7",
        "csrf_token": "0123456789abcdef0123456789abcdef01234567",
    }),
    ("compressed", "keyboard cat", {"cart": ["item-%d" % i for i in range(40)], "user": "bob"}),
    ("compressed_mixed", "keyboard cat", {
        "history": [
            {"at": datetime.datetime(2023, 1, d, 12, 0, 0, tzinfo=datetime.timezone.utc),
             "id": uuid.UUID(int=d * 7919), "path": "/orders/%d" % (d * 31), "ok": d % 3 == 0}
            for d in range(1, 29)
        ],
        "prefs": {"theme": "dark", "lang": "en-GB", "tz": "Europe/London"},
    }),
    ("bytes_key", b'_5#y2L"F4Q8z\n\xec]/', {"user": "alice", "admin": False}),
    ("fallback_old_key", "old-secret-key", {"user": "carol"}),
]


def main():
    timed.TimestampSigner.get_timestamp = lambda self: FIXED_TS
    vectors = []
    for name, secret, data in CASES:
        if isinstance(secret, bytes):
            key = {"secret_key_b64": __import__("base64").b64encode(secret).decode()}
        else:
            key = {"secret_key": secret}
        v = {"name": name}
        v.update(key)
        v["timestamp"] = FIXED_TS
        v["json"] = tagged_json(secret, data)
        v["cookie"] = cookie(secret, data)
        v["compressed"] = v["cookie"].startswith(".")
        vectors.append(v)
    out = {
        "generator": "flask/testdata/gen_vectors.py",
        "flask": flask.__version__,
        "itsdangerous": itsdangerous.__version__,
        "vectors": vectors,
    }
    with open(os.path.join(here, "vectors.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=True)
        f.write("\n")

    zcases = []
    for spec in ZLIB_SPECS:
        data = zlib_input(*spec)
        c = zlib.compress(data)
        zcases.append({"seed": spec[0], "size": spec[1], "alphabet": spec[2],
                       "len": len(c), "sha256": hashlib.sha256(c).hexdigest()})
    with open(os.path.join(here, "zlib.json"), "w") as f:
        json.dump({"zlib": zlib.ZLIB_RUNTIME_VERSION, "cases": zcases}, f, indent=1)
        f.write("\n")


# Deterministic inputs shared with zlib_test.go: splitmix64 drives a
# generator that mixes literals from a small alphabet with copies of earlier
# runs, so the data has matches at every distance and length.
MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def zlib_input(seed, size, alphabet):
    r = SplitMix(seed)
    out = bytearray()
    while len(out) < size:
        x = r.next()
        if len(out) > 0 and x % 4 == 0:
            # copy a run from earlier output
            dist = 1 + (x >> 8) % min(len(out), 40000)
            n = 1 + (x >> 32) % 300
            start = len(out) - dist
            for i in range(n):
                out.append(out[start + i])
        else:
            out.append((x >> 16) % alphabet + (0 if alphabet == 256 else 32))
    return bytes(out[:size])


ZLIB_SPECS = [
    (1, 1, 4), (2, 2, 4), (3, 3, 4), (4, 10, 2), (5, 40, 26), (6, 100, 95),
    (7, 300, 4), (8, 1000, 95), (9, 1000, 256), (10, 3000, 16), (11, 4096, 95),
    (12, 5000, 2), (13, 8000, 256), (14, 20000, 40), (15, 40000, 95),
    (16, 70000, 8), (17, 100000, 256), (18, 150000, 60), (19, 300000, 3),
    (20, 260, 1), (21, 70000, 1), (22, 2000, 1), (23, 600, 200),
]


if __name__ == "__main__":
    sys.exit(main())
