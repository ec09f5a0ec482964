"""A deliberately weak Django app, a target for "latch audit" tests.

Django's signed-cookie session engine (the whole session lives in the
cookie), signed with a guessable SECRET_KEY, DEBUG off, settings in this
one file. Every weakness is planted on purpose and listed in expect.json.

    /usr/bin/python3 app.py PORT

Users: alice / wonderland. POST /login, GET /me (200 or 401), POST /logout.
"""
import sys

from django.conf import settings

settings.configure(
    DEBUG=False,
    # Planted: a guessable key (it is in wordlist.txt next to this file).
    SECRET_KEY="django-insecure-letmein",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.sessions"],
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    DATABASES={},
    USE_TZ=True,
)

import django  # noqa: E402

django.setup()

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_http_methods  # noqa: E402

FORM = ('<!DOCTYPE html><title>djangoweak</title><form method="post" action="/login">'
        '<input name="username"><input name="password" type="password"><button>Log in</button></form>')


def home(request):
    return HttpResponse(FORM)


@require_http_methods(["GET", "POST"])
def login(request):
    if request.method == "GET":
        return HttpResponse(FORM)
    if request.POST.get("username") != "alice" or request.POST.get("password") != "wonderland":
        return HttpResponse("bad credentials", status=401)
    request.session.cycle_key()
    request.session["user"] = "alice"
    return HttpResponseRedirect("/me")


def me(request):
    user = request.session.get("user")
    if not user:
        return JsonResponse({"error": "not logged in"}, status=401)
    return JsonResponse({"user": user})


@require_http_methods(["POST"])
def logout(request):
    # Planted (inherent to signed-cookie sessions): flush() only deletes the
    # cookie; a copy stays valid until it expires (two weeks).
    request.session.flush()
    return HttpResponseRedirect("/")


urlpatterns = [path("", home), path("login", login), path("me", me), path("logout", logout)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "runserver", "--noreload", "127.0.0.1:" + sys.argv[1]])
