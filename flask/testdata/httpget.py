#!/usr/bin/python3
"""GET a URL for scripts/flask-roundtrip, without needing curl.

    httpget.py URL [SESSION_COOKIE]

Prints three lines: the status code, the value of the "session" cookie the
response sets (or "-"), and the body on one line.
"""

import http.client
import sys
import urllib.parse


def main():
    url = urllib.parse.urlsplit(sys.argv[1])
    headers = {}
    if len(sys.argv) > 2 and sys.argv[2]:
        headers["Cookie"] = "session=" + sys.argv[2]
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    path = url.path + ("?" + url.query if url.query else "")
    conn.request("GET", path or "/", headers=headers)
    resp = conn.getresponse()
    body = resp.read().decode("utf-8", "replace").replace("\n", " ").strip()
    session = "-"
    for name, value in resp.getheaders():
        if name.lower() == "set-cookie" and value.startswith("session="):
            session = value.split(";", 1)[0][len("session="):] or "-"
    print(resp.status)
    print(session)
    print(body)


if __name__ == "__main__":
    main()
