// Command weakgo is a deliberately insecure web application, a target for
// "latch audit" tests. Every session-management mistake in it is planted on
// purpose and listed in expect.json; never copy any of it.
//
//	weakgo -addr 127.0.0.1:17301
//
// Users: alice / wonderland. Routes: GET / (issues an anonymous session),
// POST /login (username, password), GET /me (200 with the user, 401
// otherwise), POST or GET /logout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// server holds sessions in memory: id -> user ("" for anonymous).
type server struct {
	mu       sync.Mutex
	next     int64
	sessions map[string]string
}

// newID is the planted weakness behind token-entropy: a counter.
func (s *server) newID() string {
	s.next++
	return strconv.FormatInt(s.next, 10)
}

// setSID sets the cookie without Secure, HttpOnly or SameSite, for ten
// years, with the sloppy formatting some servers produce.
func setSID(w http.ResponseWriter, id string) {
	w.Header().Add("Set-Cookie", "SID="+id+";path=/;  max-age=315360000")
}

func (s *server) sid(r *http.Request) string {
	if c, err := r.Cookie("SID"); err == nil {
		return c.Value
	}
	return r.URL.Query().Get("sid") // planted: the token is also read from the URL
}

func (s *server) home(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	id := s.sid(r)
	if _, ok := s.sessions[id]; !ok || id == "" {
		id = s.newID()
		s.sessions[id] = ""
		setSID(w, id)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!DOCTYPE html><title>weakgo</title><form method="post" action="/login">
<input name="username"><input name="password" type="password"><button>Log in</button></form>`)
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.home(w, r)
		return
	}
	if r.PostFormValue("username") != "alice" || r.PostFormValue("password") != "wonderland" {
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	// Planted: the session ID the client presents is kept (or adopted,
	// even if this server never issued it) instead of a new one.
	id := s.sid(r)
	if id == "" {
		id = s.newID()
	}
	s.sessions[id] = "alice"
	s.mu.Unlock()
	setSID(w, id)
	// Planted: the token travels in the redirect URL.
	http.Redirect(w, r, "/me?sid="+id, http.StatusSeeOther)
}

func (s *server) me(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	user := s.sessions[s.sid(r)]
	s.mu.Unlock()
	if user == "" {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"user": user})
}

// logout only clears the cookie in the browser: the session stays valid
// on the server (planted).
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Set-Cookie", "SID=; path=/; expires=Thu, 01-Jan-1970 00:00:00 GMT")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:17301", "listen address")
	flag.Parse()
	s := &server{sessions: map[string]string{}, next: time.Now().Unix() % 1000 * 1000}
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.home)
	mux.HandleFunc("/login", s.login)
	mux.HandleFunc("/me", s.me)
	mux.HandleFunc("/logout", s.logout)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("weakgo listening on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}
