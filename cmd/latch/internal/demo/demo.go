// Package demo is latch's reference application: every mitigation in pages
// a person can click through, and the JSON routes fixed in DESIGN.md.
package demo

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchsec/latch"
)

//go:embed assets
var assets embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"ago":     ago,
	"device":  device,
	"minutes": humanDuration,
	"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}).ParseFS(assets, "assets/*.html"))

// Options configures the demo application.
type Options struct {
	// Manager is the session manager, built by the caller.
	Manager *latch.Manager
	// ReauthWindow is how recent the last authentication must be for the
	// sensitive action. Default 5 minutes.
	ReauthWindow time.Duration
	// PasswordIterations is the PBKDF2 work factor. Default 600,000.
	PasswordIterations int
	// Logger receives the demo's own messages. Default slog.Default().
	Logger *slog.Logger
}

// App is the demo application.
type App struct {
	m      *latch.Manager
	users  *users
	window time.Duration
	log    *slog.Logger
}

// Users are the demo's accounts and their first passwords.
var Users = map[string]string{"alice": "wonderland", "bob": "builder"}

// New returns the demo application.
func New(o Options) *App {
	if o.ReauthWindow <= 0 {
		o.ReauthWindow = 5 * time.Minute
	}
	if o.PasswordIterations <= 0 {
		o.PasswordIterations = pbkdf2Iterations
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &App{m: o.Manager, users: newUsers(o.PasswordIterations, Users), window: o.ReauthWindow, log: o.Logger}
}

// Handler returns the whole application: routes, sessions, cross-origin
// protection for the forms, and security headers.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("GET /me", a.me)
	mux.Handle("GET /session/status", a.m.StatusHandler())
	mux.HandleFunc("POST /session/touch", a.touch)

	auth := a.m.RequireLogin(http.HandlerFunc(a.toLogin))
	mux.Handle("GET /sessions", auth(http.HandlerFunc(a.sessions)))
	mux.Handle("POST /sessions/revoke", auth(http.HandlerFunc(a.revoke)))
	mux.Handle("GET /password", auth(http.HandlerFunc(a.passwordPage)))
	mux.Handle("POST /password", auth(http.HandlerFunc(a.password)))
	sensitive := a.m.RequireRecentAuth(a.window, http.HandlerFunc(a.reauthPage))
	mux.Handle("GET /sensitive", auth(sensitive(http.HandlerFunc(a.sensitivePage))))
	mux.Handle("POST /sensitive", auth(sensitive(http.HandlerFunc(a.sensitiveAction))))
	mux.Handle("POST /reauth", auth(http.HandlerFunc(a.reauth)))

	cop := http.NewCrossOriginProtection()
	return securityHeaders(cop.Handler(a.m.Handler(mux)))
}

// securityHeaders sets what a reviewer expects on every response.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func session(r *http.Request) *latch.Session {
	s, err := latch.FromContext(r.Context())
	if err != nil {
		panic(err) // every route is behind the session middleware
	}
	return s
}

// wantsJSON reports whether the client asked for JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// view is what every page template gets.
type view struct {
	Title    string
	User     string
	Flash    string
	Error    string
	Reason   string
	Idle     time.Time
	Absolute time.Time
	Remember bool
	AuthTime time.Time
	Sessions []latch.SessionInfo
	Next     string
	Now      time.Time
	Window   time.Duration
	// CookieKey is the id of the key that signed the cookie this request
	// carried, and SigningKey the id of the key that signs cookies now:
	// they differ while a rotation re-issues the cookie.
	CookieKey  string
	SigningKey string
	// DeviceOffered is set when the Manager offers device-bound sessions;
	// DeviceBound when this session registered a device key, and
	// DeviceVerified when this request proved it with the bound cookie.
	DeviceOffered  bool
	DeviceBound    bool
	DeviceVerified bool
}

func (a *App) render(w http.ResponseWriter, r *http.Request, code int, name string, v view) {
	s := session(r)
	v.User = s.UserID()
	v.Idle, v.Absolute = s.Deadlines()
	v.Remember = s.Remember()
	v.AuthTime = s.AuthTime()
	v.Now = time.Now()
	v.Window = a.window
	v.CookieKey = a.cookieKey(r)
	v.SigningKey = a.signingKey()
	v.DeviceOffered = a.m.Config().DeviceBound.Mode != latch.DeviceBoundOff
	v.DeviceBound, v.DeviceVerified = s.DeviceBound(), s.DeviceVerified()
	if v.Flash == "" {
		if f, ok := s.Pop("flash").(string); ok {
			v.Flash = f
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := pages.ExecuteTemplate(w, name, v); err != nil {
		a.log.Error("demo: render", "page", name, "error", err)
	}
}

// reasonLogout is the demo's own reason, for the page after a logout.
const reasonLogout latch.Reason = "logout"

// endedMessage explains why the user has to sign in again.
func endedMessage(reason latch.Reason) string {
	switch reason {
	case latch.ReasonIdle:
		return "Your session ended after a period of inactivity. Please sign in again."
	case latch.ReasonAbsolute:
		return "Your session reached its maximum lifetime. Please sign in again."
	case reasonLogout:
		return "You have signed out."
	case latch.ReasonNotFound:
		return "Your session has ended (signed out, revoked from another device, or expired). Please sign in again."
	case latch.ReasonRenewed:
		return "Your session was renewed in another tab or window. Reload this page, or sign in again."
	case latch.ReasonBinding:
		return "Your session was ended because it was used from another device or network."
	case "":
		return ""
	}
	return "Your session cookie was not accepted. Please sign in again."
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	if !session(r).IsAuthenticated() {
		a.loginPage(w, r)
		return
	}
	a.render(w, r, http.StatusOK, "home.html", view{Title: "Home"})
}

// toLogin sends a signed-out request to the sign-in page. Why the session
// ended needs no query parameter: latch carries it to the next request,
// where Session.Ended reports it.
func (a *App) toLogin(w http.ResponseWriter, r *http.Request) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not authenticated", "ended": string(session(r).Ended())})
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (a *App) loginPage(w http.ResponseWriter, r *http.Request) {
	s := session(r)
	s.NoTouch() // showing the sign-in page is not activity
	reason := s.Ended()
	if reason == "" && r.URL.Query().Get("reason") == string(reasonLogout) {
		reason = reasonLogout
	}
	a.render(w, r, http.StatusOK, "login.html", view{Title: "Sign in", Reason: endedMessage(reason)})
}

func (a *App) login(w http.ResponseWriter, r *http.Request) {
	name, pw := r.PostFormValue("username"), r.PostFormValue("password")
	if !a.users.check(name, pw) {
		a.render(w, r, http.StatusUnauthorized, "login.html", view{Title: "Sign in", Error: "Wrong username or password."})
		return
	}
	s := session(r)
	if err := s.Login(name, latch.Remember(r.PostFormValue("remember") == "on")); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusServiceUnavailable
	msg := "The session store is unavailable. Please try again."
	if errors.Is(err, latch.ErrSessionLimit) {
		code, msg = http.StatusConflict, "You have too many active sessions. End one first."
	}
	a.log.Warn("demo: session operation failed", "error", err)
	http.Error(w, msg, code)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if err := session(r).Logout(); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/login?reason="+string(reasonLogout), http.StatusSeeOther)
}

func (a *App) me(w http.ResponseWriter, r *http.Request) {
	s := session(r)
	if !s.IsAuthenticated() {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not authenticated", "ended": string(s.Ended())})
		return
	}
	idle, abs := s.Deadlines()
	writeJSON(w, http.StatusOK, map[string]any{"user": s.UserID(), "idle_expires_at": idle, "absolute_expires_at": abs, "cookie_key": a.cookieKey(r),
		"device_bound": s.DeviceBound(), "device_verified": s.DeviceVerified()})
}

// cookieKey returns the id of the key that signed the request's session
// cookie: the text before the first dot, in a signed token and a sealed
// cookie alike. The key itself is never shown.
func (a *App) cookieKey(r *http.Request) string {
	c, err := r.Cookie(a.m.CookieName())
	if err != nil {
		return ""
	}
	id, _, _ := strings.Cut(c.Value, ".")
	return id
}

// signingKey returns the id of the key that signs new cookies now, from
// the keyring the Manager has in use (it follows every reload).
func (a *App) signingKey() string { return a.m.Keyring().Primary().ID }

func (a *App) touch(w http.ResponseWriter, r *http.Request) {
	s := session(r)
	if !s.IsAuthenticated() {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not authenticated"})
		return
	}
	s.Touch()
	w.WriteHeader(http.StatusNoContent)
}

func (a *App) sessions(w http.ResponseWriter, r *http.Request) {
	s := session(r)
	list, err := a.m.Sessions(r.Context(), s.UserID(), s)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, list)
		return
	}
	a.render(w, r, http.StatusOK, "sessions.html", view{Title: "Your sessions", Sessions: list})
}

func (a *App) revoke(w http.ResponseWriter, r *http.Request) {
	s := session(r)
	n := 0
	switch {
	case r.PostFormValue("all") == "others":
		var err error
		if n, err = s.RevokeOthers(); err != nil {
			a.fail(w, r, err)
			return
		}
	case r.PostFormValue("handle") != "":
		h := r.PostFormValue("handle")
		if h == s.Handle() {
			http.Error(w, "Use \"Sign out\" to end this session.", http.StatusBadRequest)
			return
		}
		err := a.m.Revoke(r.Context(), s.UserID(), h)
		if errors.Is(err, latch.ErrNotFound) {
			http.Error(w, "No such session.", http.StatusNotFound)
			return
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		n = 1
	default:
		http.Error(w, "Give a handle or all=others.", http.StatusBadRequest)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
		return
	}
	s.Set("flash", plural(n, "session")+" ended.")
	http.Redirect(w, r, "/sessions", http.StatusSeeOther)
}

func (a *App) passwordPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "password.html", view{Title: "Change password"})
}

func (a *App) password(w http.ResponseWriter, r *http.Request) {
	s := session(r)
	user := s.UserID()
	if !a.users.check(user, r.PostFormValue("current")) {
		a.render(w, r, http.StatusUnauthorized, "password.html", view{Title: "Change password", Error: "The current password is wrong."})
		return
	}
	if err := a.users.setPassword(user, r.PostFormValue("new")); err != nil {
		a.render(w, r, http.StatusBadRequest, "password.html", view{Title: "Change password", Error: err.Error()})
		return
	}
	// A change of password ends every other session (ASVS 7.4.3) and
	// renews this one, since the user just proved who they are.
	n, err := s.RevokeOthers()
	if err == nil {
		err = s.Reauthenticate()
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	msg := "Password changed; " + plural(n, "other session") + " ended."
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"changed": true, "revoked": n})
		return
	}
	s.Set("flash", msg)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *App) sensitivePage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "sensitive.html", view{Title: "Sensitive action"})
}

func (a *App) sensitiveAction(w http.ResponseWriter, r *http.Request) {
	session(r).Set("flash", "The sensitive action was carried out.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *App) reauthPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusUnauthorized, "reauth.html", view{Title: "Confirm your password", Next: "/sensitive"})
}

func (a *App) reauth(w http.ResponseWriter, r *http.Request) {
	s := session(r)
	if !a.users.check(s.UserID(), r.PostFormValue("password")) {
		a.render(w, r, http.StatusUnauthorized, "reauth.html", view{Title: "Confirm your password", Error: "Wrong password.", Next: "/sensitive"})
		return
	}
	if err := s.Reauthenticate(); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/sensitive", http.StatusSeeOther)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return itoa(n) + " " + what + "s"
}

func itoa(n int) string { return strconv.Itoa(n) }

// humanDuration writes d in words: "5 minutes", "90 seconds", "2 hours".
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return plural(int(d.Round(time.Second)/time.Second), "second")
}

func ago(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return itoa(int(d/time.Hour)) + " h ago"
	}
	return itoa(int(d/(24*time.Hour))) + " days ago"
}

// device names a browser and platform from a User-Agent.
func device(ua string) string {
	browser := "Unknown browser"
	for _, b := range [...][2]string{{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client", "Go client"}, {"python", "Python client"}} {
		if strings.Contains(ua, b[0]) {
			browser = b[1]
			break
		}
	}
	for _, p := range [...][2]string{{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"}} {
		if strings.Contains(ua, p[0]) {
			return browser + " on " + p[1]
		}
	}
	return browser
}
