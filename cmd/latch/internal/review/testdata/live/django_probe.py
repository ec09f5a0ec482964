"""Load a Django fixture's production settings with real Django and report them.

Usage: django_probe.py DIR MODULE key|live

key:  no secret in the environment: {"key": hex}, {"key": null}, or {"key_error": name}
      when loading fails for want of the variable.
live: secret set: the session, HTTPS and HSTS settings as Django sees them.
Any other failure prints {"error": ...}; the caller skips that fixture.
"""

import json
import os
import sys
import warnings

warnings.simplefilter("ignore")
root, module, mode = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, root)
os.chdir(root)
sys.dont_write_bytecode = True
SECRET_VARS = ("SECRET_KEY", "DJANGO_SECRET_KEY")
for v in SECRET_VARS:
    os.environ.pop(v, None)
if mode == "live":
    for v in SECRET_VARS:
        os.environ[v] = "probe-" + "k" * 50
os.environ["DJANGO_SETTINGS_MODULE"] = module


def emit(obj):
    print(json.dumps(obj))
    sys.exit(0)


from django.conf import settings  # noqa: E402

try:
    key = settings.SECRET_KEY
except KeyError as e:
    if mode == "key" and e.args and e.args[0] in SECRET_VARS:
        emit({"key_error": "KeyError"})
    emit({"error": "loading settings: KeyError: %s" % e})
except Exception as e:  # noqa: BLE001 - any failure means the fixture cannot be probed here
    if mode == "key" and type(e).__name__ == "ImproperlyConfigured":
        emit({"key_error": "ImproperlyConfigured"})
    emit({"error": "loading settings: %s: %s" % (type(e).__name__, e)})

if mode == "key":
    emit({"key": None if key is None else str(key).encode().hex()})

s = settings
emit({
    "sessions": "django.contrib.sessions" in s.INSTALLED_APPS
    or "django.contrib.sessions.middleware.SessionMiddleware" in s.MIDDLEWARE,
    "secure": bool(s.SESSION_COOKIE_SECURE),
    "httponly": bool(s.SESSION_COOKIE_HTTPONLY),
    "samesite": s.SESSION_COOKIE_SAMESITE,
    "age": int(s.SESSION_COOKIE_AGE),
    "ssl_redirect": bool(s.SECURE_SSL_REDIRECT),
    "hsts_seconds": int(s.SECURE_HSTS_SECONDS or 0),
    "hsts_subdomains": bool(s.SECURE_HSTS_INCLUDE_SUBDOMAINS),
})
