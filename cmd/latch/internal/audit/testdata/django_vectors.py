import django, json, time
from django.conf import settings
settings.configure(SECRET_KEY="changeme-django", DEFAULT_HASHING_ALGORITHM="sha256")
django.setup()
from django.core import signing
from unittest import mock
salt="django.contrib.sessions.backends.signed_cookies"
out=[]
with mock.patch("time.time", return_value=1764446400):
    for name, obj, comp in [("small", {"user":"alice"}, True), ("big", {"user":"alice","pad":"x"*200}, True), ("plain", {"a":1,"b":[1,2,3]}, False), ("unicode", {"n":"é☃"}, True)]:
        out.append({"name":name, "key":"changeme-django", "algo":"sha256", "cookie":signing.dumps(obj, salt=salt, compress=comp), "json":json.dumps(obj, separators=(",",":"))})
    s = signing.TimestampSigner(key="changeme-django", salt=salt, algorithm="sha1")
    v = signing.b64_encode(json.dumps({"user":"bob"}, separators=(",",":")).encode()).decode()
    out.append({"name":"legacy-sha1", "key":"changeme-django", "algo":"sha1", "cookie":s.sign(v), "json":'{"user":"bob"}'})
print(json.dumps(out, indent=1, ensure_ascii=False))
