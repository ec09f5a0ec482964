"""Build a Flask fixture's production app with real Flask and report what it does.

Usage: flask_probe.py DIR key|live   (run with DIR as a scratch copy of the fixture)

key:  build the app with no secret in the environment and print {"key": hex} for the
      key it ends up with, {"key": null} when there is none, or {"key_error": name} when
      building fails for want of the variable.
live: build it with the secret set, set a session value over HTTPS, and print the
      Set-Cookie header, Strict-Transport-Security, what a plain-HTTP request gets and
      PERMANENT_SESSION_LIFETIME in seconds.
Any other failure prints {"error": ...}; the caller skips that fixture.
"""

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import warnings
from unittest import mock

warnings.simplefilter("ignore")
root, mode = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
os.chdir(root)
sys.dont_write_bytecode = True


class LocalStubs(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The fixtures import their own models and db helpers, which they do not ship."""

    NAMES = {"models", "db"}

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in self.NAMES:
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        m = mock.MagicMock()
        m.__name__, m.__path__, m.__spec__ = spec.name, [], spec
        return m

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, LocalStubs())
os.environ.update(FLASK_CONFIG="production", APP_SETTINGS="config.ProductionConfig", FLASK_ENV="production")
SECRET_VARS = ("SECRET_KEY", "FLASK_SECRET_KEY")
for v in SECRET_VARS:
    os.environ.pop(v, None)
if mode == "live":
    for v in SECRET_VARS:
        os.environ[v] = "probe-" + "k" * 40


def build():
    if os.path.exists("wsgi.py"):
        return importlib.import_module("wsgi").app
    if os.path.exists("app.py"):
        return importlib.import_module("app").app
    pkg = importlib.import_module("app")
    try:
        return pkg.create_app("production")
    except TypeError:
        return pkg.create_app()


def emit(obj):
    print(json.dumps(obj))
    sys.exit(0)


try:
    app = build()
except KeyError as e:
    if mode == "key" and e.args and e.args[0] in SECRET_VARS:
        emit({"key_error": "KeyError"})
    emit({"error": "building the app: %s: %s" % (type(e).__name__, e)})
except Exception as e:  # noqa: BLE001 - any failure means the fixture cannot be probed here
    emit({"error": "building the app: %s: %s" % (type(e).__name__, e)})

if mode == "key":
    k = app.config.get("SECRET_KEY")
    if k is None:
        emit({"key": None})
    emit({"key": (k if isinstance(k, bytes) else str(k).encode()).hex()})

from flask import session  # noqa: E402


@app.route("/__probe")
def probe():
    session["probe"] = 1
    return "ok"


try:
    r = app.test_client().get("/__probe", base_url="https://probe.test")
    r2 = app.test_client().get("/__probe", base_url="http://probe.test")
except Exception as e:  # noqa: BLE001
    emit({"error": "request: %s: %s" % (type(e).__name__, e)})
emit({
    "set_cookie": r.headers.get("Set-Cookie"),
    "hsts": r.headers.get("Strict-Transport-Security"),
    "http_status": r2.status_code,
    "http_location": r2.headers.get("Location"),
    "lifetime": app.permanent_session_lifetime.total_seconds(),
})
