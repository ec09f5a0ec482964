package review

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// This file builds the synthetic projects the timing target of issue 17 is
// measured on ("reviewing a 100k-line project takes under five seconds"):
// a Flask or a Django project of many ordinary modules (models, views,
// forms, helpers, each a few hundred lines of the Python such projects
// hold) around a configuration whose verdicts are known, so that a timing
// test can check the answer as well as the time.

// synthLines is the size of the project the timing target names.
const synthLines = 100_000

// synthProject describes a generated project.
type synthProject struct {
	Dir       string
	Framework string            // "flask" or "django"
	Lines     int               // lines of Python written
	Files     int               // Python files written
	Expect    map[string]string // check id -> status, decided by hand for the fixed configuration
}

// writeSynthProject writes a framework ("flask" or "django") project of at
// least lines lines of Python under dir and says what it wrote. The output
// depends only on its arguments.
func writeSynthProject(tb testing.TB, dir, framework string, lines int) synthProject {
	tb.Helper()
	g := &synthGen{tb: tb, dir: dir}
	p := synthProject{Dir: dir, Framework: framework}
	switch framework {
	case "flask":
		g.flaskCore()
		p.Expect = map[string]string{
			// config.py: os.environ.get("SECRET_KEY", "synthetic-dev-key") in Config
			"secret-key-source": "fail",
			"secret-key-weak":   "fail", // 17 bytes
			// ProductionConfig sets Secure and SameSite; Talisman(app) as well
			"cookie-secure":   "pass",
			"cookie-httponly": "pass",
			"cookie-samesite": "pass",
			// ProductionConfig: PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
			"session-lifetime": "pass",
			// auth/views.py: session.clear() then login_user(user)
			"session-regeneration": "pass",
			// Talisman(app) in create_app: force_https and one-year HSTS
			"https-redirect": "pass",
			"hsts":           "pass",
		}
	case "django":
		g.djangoCore()
		p.Expect = map[string]string{
			// settings/production.py: os.environ["DJANGO_SECRET_KEY"]
			"secret-key-source": "pass",
			"secret-key-weak":   "skip",
			"cookie-secure":     "pass", // production.py
			"cookie-httponly":   "pass", // Django's default
			"cookie-samesite":   "pass", // "Strict" in base.py
			// base.py: SESSION_COOKIE_AGE = 60 * 60 * 24 * 60 (60 days)
			"session-lifetime": "fail",
			// accounts/views.py calls django.contrib.auth.login()
			"session-regeneration": "pass",
			"https-redirect":       "pass", // SECURE_SSL_REDIRECT = True in production.py
			"hsts":                 "fail", // SECURE_HSTS_SECONDS never set
		}
	default:
		tb.Fatalf("writeSynthProject: unknown framework %q", framework)
	}
	for n := 0; g.lines < lines; n++ {
		g.appPackage(framework, n)
	}
	p.Lines, p.Files = g.lines, g.files
	return p
}

type synthGen struct {
	tb           testing.TB
	dir          string
	lines, files int
}

func (g *synthGen) write(rel, text string) {
	g.tb.Helper()
	path := filepath.Join(g.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		g.tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		g.tb.Fatal(err)
	}
	if strings.HasSuffix(rel, ".py") {
		g.lines += strings.Count(text, "\n")
		g.files++
	}
}

func (g *synthGen) flaskCore() {
	g.write("config.py", `import os
from datetime import timedelta


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "synthetic-dev-key")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///app.db")
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    ITEMS_PER_PAGE = 25


class DevelopmentConfig(Config):
    DEBUG = True


class TestingConfig(Config):
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)


config = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
    "default": DevelopmentConfig,
}
`)
	g.write("wsgi.py", `import os

from app import create_app

app = create_app(os.getenv("FLASK_CONFIG") or "default")
`)
	g.write("app/__init__.py", `from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman

from config import config

db = SQLAlchemy()
login_manager = LoginManager()
login_manager.login_view = "auth.login"


def create_app(config_name):
    app = Flask(__name__)
    app.config.from_object(config[config_name])
    db.init_app(app)
    login_manager.init_app(app)
    Talisman(app)

    from .auth import auth as auth_blueprint

    app.register_blueprint(auth_blueprint, url_prefix="/auth")
    return app
`)
	g.write("app/models.py", `from flask_login import UserMixin
from werkzeug.security import check_password_hash

from app import db, login_manager


class User(UserMixin, db.Model):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(200), unique=True, index=True)
    password_hash = db.Column(db.String(200))

    def verify_password(self, password):
        return check_password_hash(self.password_hash, password)


@login_manager.user_loader
def load_user(user_id):
    return User.query.get(int(user_id))
`)
	g.write("app/auth/__init__.py", `from flask import Blueprint

auth = Blueprint("auth", __name__)

from . import views  # noqa: E402,F401
`)
	g.write("app/auth/views.py", `from flask import flash, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user, logout_user

from ..models import User
from . import auth


@auth.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        user = User.query.filter_by(email=request.form["email"].lower()).first()
        if user is not None and user.verify_password(request.form["password"]):
            session.clear()
            login_user(user)
            return redirect(request.args.get("next") or url_for("main.index"))
        flash("Invalid email or password.")
    return render_template("auth/login.html")


@auth.route("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("main.index"))
`)
}

func (g *synthGen) djangoCore() {
	g.write("manage.py", `#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_project.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
`)
	g.write("site_project/__init__.py", "")
	g.write("site_project/wsgi.py", `import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_project.settings.production")

application = get_wsgi_application()
`)
	g.write("site_project/settings/__init__.py", "")
	g.write("site_project/settings/base.py", `from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "site_project.urls"
WSGI_APPLICATION = "site_project.wsgi.application"
SESSION_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 60
`)
	g.write("site_project/settings/local.py", `from .base import *  # noqa

DEBUG = True
SECRET_KEY = "local-development-only"
`)
	g.write("site_project/settings/production.py", `import os

from .base import *  # noqa

DEBUG = False
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
SESSION_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = True
`)
	g.write("accounts/__init__.py", "")
	g.write("accounts/views.py", `from django.contrib.auth import authenticate, login, logout
from django.http import HttpResponseRedirect
from django.shortcuts import render


def login_view(request):
    if request.method == "POST":
        user = authenticate(request, username=request.POST["username"], password=request.POST["password"])
        if user is not None:
            login(request, user)
            return HttpResponseRedirect("/")
    return render(request, "accounts/login.html")


def logout_view(request):
    logout(request)
    return HttpResponseRedirect("/")
`)
}

// appPackage writes one package of ordinary modules, about 1,200 lines.
func (g *synthGen) appPackage(framework string, n int) {
	pkg := fmt.Sprintf("app/feature%d", n)
	if framework == "django" {
		pkg = fmt.Sprintf("apps/feature%d", n)
	}
	g.write(pkg+"/__init__.py", "")
	var models, views, forms, utils strings.Builder
	fmt.Fprintf(&models, "import datetime\nimport decimal\n\n")
	if framework == "flask" {
		fmt.Fprintf(&models, "from app import db\n\n")
	} else {
		fmt.Fprintf(&models, "from django.db import models\n\n")
	}
	for i := 0; i < 12; i++ {
		synthModel(&models, framework, n, i)
	}
	fmt.Fprintf(&views, "import json\nimport logging\n\nfrom .models import *  # noqa\nfrom .utils import paginate, slugify_title\n\nlog = logging.getLogger(__name__)\n\n")
	if framework == "flask" {
		fmt.Fprintf(&views, "from flask import Blueprint, abort, jsonify, request, session\n\nbp = Blueprint(\"feature%d\", __name__)\n\n", n)
	} else {
		fmt.Fprintf(&views, "from django.http import Http404, JsonResponse\nfrom django.views import View\n\n")
	}
	for i := 0; i < 12; i++ {
		synthView(&views, framework, n, i)
	}
	for i := 0; i < 10; i++ {
		synthForm(&forms, n, i)
	}
	synthUtils(&utils, n)
	g.write(pkg+"/models.py", models.String())
	g.write(pkg+"/views.py", views.String())
	g.write(pkg+"/forms.py", forms.String())
	g.write(pkg+"/utils.py", utils.String())
}

func synthModel(b *strings.Builder, framework string, n, i int) {
	name := fmt.Sprintf("Record%d_%d", n, i)
	if framework == "flask" {
		fmt.Fprintf(b, `
class %[1]s(db.Model):
    __tablename__ = "record_%[2]d_%[3]d"
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False, index=True)
    body = db.Column(db.Text, default="")
    price = db.Column(db.Numeric(10, 2), default=decimal.Decimal("0.00"))
    created = db.Column(db.DateTime, default=datetime.datetime.utcnow)
    secret_key = db.Column(db.String(64))  # a column, not the app's key

    def __repr__(self):
        return f"<%[1]s {self.id} {self.title!r}>"

    def to_dict(self):
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "price": str(self.price),
            "created": self.created.isoformat() if self.created else None,
        }

    @classmethod
    def newest(cls, limit=10):
        return cls.query.order_by(cls.created.desc()).limit(limit).all()
`, name, n, i)
		return
	}
	fmt.Fprintf(b, `
class %[1]s(models.Model):
    title = models.CharField(max_length=200, db_index=True)
    body = models.TextField(blank=True, default="")
    price = models.DecimalField(max_digits=10, decimal_places=2, default=decimal.Decimal("0.00"))
    created = models.DateTimeField(default=datetime.datetime.now)
    secret_key = models.CharField(max_length=64, blank=True)  # a field, not the site's key

    class Meta:
        ordering = ["-created"]
        verbose_name = "record %[2]d.%[3]d"

    def __str__(self):
        return f"{self.title} ({self.pk})"

    def to_dict(self):
        return {
            "id": self.pk,
            "title": self.title,
            "body": self.body,
            "price": str(self.price),
            "created": self.created.isoformat() if self.created else None,
        }

    @classmethod
    def newest(cls, limit=10):
        return list(cls.objects.order_by("-created")[:limit])
`, name, n, i)
}

func synthView(b *strings.Builder, framework string, n, i int) {
	name := fmt.Sprintf("Record%d_%d", n, i)
	if framework == "flask" {
		fmt.Fprintf(b, `
@bp.route("/records/%[2]d/<int:record_id>", methods=["GET", "POST"])
def record_%[2]d(record_id):
    record = %[1]s.query.get(record_id)
    if record is None:
        abort(404)
    if request.method == "POST":
        data = request.get_json(silent=True) or {}
        record.title = slugify_title(data.get("title", record.title))
        record.body = data.get("body", record.body)
        session["last_record"] = record.id
        log.info("updated %%s", record)
    recent = [r.to_dict() for r in %[1]s.newest(limit=5) if r.id != record.id]
    page = paginate(recent, int(request.args.get("page", 1)), per_page=%[3]d)
    return jsonify(record=record.to_dict(), recent=page, total=len(recent))
`, name, i, 5+i%7)
		return
	}
	fmt.Fprintf(b, `
class %[1]sView(View):
    http_method_names = ["get", "post"]

    def get(self, request, pk):
        try:
            record = %[1]s.objects.get(pk=pk)
        except %[1]s.DoesNotExist:
            raise Http404("no such record")
        recent = [r.to_dict() for r in %[1]s.newest(limit=5) if r.pk != record.pk]
        page = paginate(recent, int(request.GET.get("page", 1)), per_page=%[2]d)
        request.session["last_record"] = record.pk
        return JsonResponse({"record": record.to_dict(), "recent": page, "total": len(recent)})

    def post(self, request, pk):
        data = json.loads(request.body or b"{}")
        record = %[1]s.objects.get(pk=pk)
        record.title = slugify_title(data.get("title", record.title))
        record.save(update_fields=["title"])
        log.info("updated %%s", record)
        return JsonResponse(record.to_dict())
`, name, 5+i%7)
}

func synthForm(b *strings.Builder, n, i int) {
	fmt.Fprintf(b, `
class RecordForm%[1]d_%[2]d:
    fields = ("title", "body", "price")
    labels = {"title": "Title", "body": "Text", "price": "Price (EUR)"}

    def __init__(self, data=None):
        self.data = dict(data or {})
        self.errors = {}

    def is_valid(self):
        self.errors = {}
        title = (self.data.get("title") or "").strip()
        if not title:
            self.errors["title"] = "required"
        elif len(title) > 200:
            self.errors["title"] = "too long"
        try:
            price = float(self.data.get("price", 0))
        except (TypeError, ValueError):
            self.errors["price"] = "not a number"
        else:
            if price < 0:
                self.errors["price"] = "negative"
        return not self.errors

    def cleaned(self):
        return {k: self.data.get(k) for k in self.fields if k in self.data}
`, n, i)
}

func synthUtils(b *strings.Builder, n int) {
	fmt.Fprintf(b, `import re
import unicodedata

SLUG_RE = re.compile(r"[^a-z0-9]+")
SECRET_KEY_HINT = "set SECRET_KEY in the environment"  # text, not a key


def slugify_title(text, max_len=%d):
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = SLUG_RE.sub("-", text.lower()).strip("-")
    return slug[:max_len] or "untitled"


def paginate(items, page, per_page=20):
    if page < 1:
        page = 1
    start = (page - 1) * per_page
    return {
        "items": items[start : start + per_page],
        "page": page,
        "pages": max(1, (len(items) + per_page - 1) // per_page),
    }


def chunks(seq, size):
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def deep_get(mapping, path, default=None):
    node = mapping
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node
`, 40+n%20)
}

// TestSynthProject checks the generator: the project reaches the size the
// timing target names, and every file it writes is Python that parses
// (checked with python3 when it is installed).
func TestSynthProject(t *testing.T) {
	for _, fw := range []string{"flask", "django"} {
		t.Run(fw, func(t *testing.T) {
			dir := t.TempDir()
			p := writeSynthProject(t, dir, fw, synthLines)
			if p.Lines < synthLines {
				t.Fatalf("%d lines, want at least %d", p.Lines, synthLines)
			}
			if p.Lines > synthLines+2000 {
				t.Errorf("%d lines: overshoots %d by more than one package", p.Lines, synthLines)
			}
			if len(p.Expect) != 9 {
				t.Errorf("Expect has %d checks, want 9", len(p.Expect))
			}
			var counted, files int
			err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, ".py") {
					return err
				}
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				files++
				sc := bufio.NewScanner(bytes.NewReader(data))
				for sc.Scan() {
					counted++
				}
				return sc.Err()
			})
			if err != nil {
				t.Fatal(err)
			}
			if counted != p.Lines || files != p.Files {
				t.Errorf("on disk: %d lines in %d files; generator says %d in %d", counted, files, p.Lines, p.Files)
			}
			py, err := exec.LookPath("python3")
			if err != nil {
				t.Skip("python3 not installed: not checking that the files parse")
			}
			script := `import ast, pathlib, sys
bad = 0
for p in pathlib.Path(sys.argv[1]).rglob("*.py"):
    try:
        ast.parse(p.read_bytes(), str(p))
    except SyntaxError as e:
        print(e); bad += 1
sys.exit(1 if bad else 0)
`
			out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
			if err != nil {
				t.Fatalf("python3 could not parse the generated project: %v\n%s", err, out)
			}
		})
	}
}
