package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/latchsec/latch"
	"github.com/latchsec/latch/cmd/latch/internal/demo"
	"github.com/latchsec/latch/driver"
	"github.com/latchsec/latch/storeurl"
)

func init() {
	register(command{name: "demo", summary: "serve the reference app (every mitigation, clickable)", run: runDemo})
}

// demoKeysFile is the keyring the demo makes on first start, beside its data.
const demoKeysFile = "latch-demo.keys"

func runDemo(ctx context.Context, env *Env) int {
	fs := newFlags(env, "demo", "[options]")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	store := fs.String("store", "bolt:latch-demo.db", "session store: "+storeurl.Forms)
	idle := fs.Duration("idle-timeout", latch.DefaultIdleTimeout, "idle timeout")
	absolute := fs.Duration("absolute-timeout", latch.DefaultAbsoluteTimeout, "absolute timeout")
	useTLS := fs.Bool("tls", false, "serve HTTPS with a self-signed certificate for localhost, with HSTS")
	httpAddr := fs.String("http-addr", "", "with --tls, also listen for plain HTTP here and redirect it to HTTPS")
	reauth := fs.Duration("reauth-window", 5*time.Minute, "how recent a sign-in the sensitive action needs")
	maxSessions := fs.Int("max-sessions", 0, "sessions per user (0: no limit; the oldest is ended at the limit)")
	metricsAddr := fs.String("metrics-addr", "", "also serve Prometheus metrics (OpenTelemetry, latchotel) at http://ADDR/metrics")
	deviceBound := fs.Bool("device-bound", true, "offer Device Bound Session Credentials (DBSC): a browser that supports it (Chrome 145+ over HTTPS) binds the session to a key that never leaves the device")
	boundLife := fs.Duration("device-bound-cookie-lifetime", latch.DefaultDeviceBoundCookieLifetime, "with --device-bound, how long a bound cookie lives (5m to 24h): the longest a copied cookie keeps working")
	if _, code, ok := parseFlags(fs, env.Args); !ok {
		return code
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))

	st, err := storeurl.Open(ctx, *store, storeurl.Options{})
	if err != nil {
		return fail(env, "demo", 1, err)
	}
	defer st.Close()
	dataDir := "."
	if st.Path != "" {
		dataDir = filepath.Dir(st.Path)
	}
	keys, from, err := demoKeys(env, dataDir)
	if err != nil {
		return fail(env, "demo", 1, err)
	}
	var sessions driver.Store = st
	var onEvent func(latch.Event)
	if *metricsAddr != "" {
		dm, err := startMetrics(*metricsAddr, st)
		if err != nil {
			return fail(env, "demo", 1, err)
		}
		defer dm.Close(context.Background())
		sessions, onEvent = dm.Store, dm.OnEvent
		fmt.Fprintf(env.Stdout, "metrics on %s\n", dm.URL())
	}
	cookieCfg := latch.Config{
		Store:              sessions,
		OnEvent:            onEvent,
		KeySource:          keys,
		IdleTimeout:        *idle,
		AbsoluteTimeout:    max(*absolute, *idle),
		MaxSessionsPerUser: *maxSessions,
		Logger:             log,
	}
	if *deviceBound {
		cookieCfg.DeviceBound = latch.DeviceBound{Mode: latch.DeviceBoundEnforce, CookieLifetime: *boundLife}
	}
	if *idle < time.Minute {
		// A short idle timeout for trying expiry out: refresh activity
		// at least every few seconds.
		cookieCfg.TouchInterval = max(*idle/4, time.Millisecond)
	}
	m, err := latch.New(cookieCfg)
	if err != nil {
		return fail(env, "demo", 1, err)
	}
	defer m.Close()
	app := demo.New(demo.Options{Manager: m, ReauthWindow: *reauth, Logger: log})
	handler := app.Handler()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(env, "demo", 1, err)
	}
	scheme := "http"
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	var servers []*http.Server
	if *useTLS {
		scheme = "https"
		certFile := filepath.Join(dataDir, "latch-demo-cert.pem")
		cert, err := selfSigned(certFile)
		if err != nil {
			return fail(env, "demo", 1, err)
		}
		fmt.Fprintf(env.Stdout, "TLS certificate (self-signed, for localhost): %s\n", certFile)
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		srv.Handler = latch.HTTPS(latch.HTTPSConfig{HTTPSPort: port})(handler)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		if *httpAddr != "" {
			pln, err := net.Listen("tcp", *httpAddr)
			if err != nil {
				return fail(env, "demo", 1, err)
			}
			plain := &http.Server{Handler: srv.Handler, ReadHeaderTimeout: 10 * time.Second}
			servers = append(servers, plain)
			go plain.Serve(pln)
			fmt.Fprintf(env.Stdout, "redirecting http://%s to HTTPS\n", pln.Addr())
		}
	}
	servers = append(servers, srv)
	fmt.Fprintf(env.Stdout, "latch demo on %s://%s (store %s, keys from %s, idle %v, absolute %v)\n",
		scheme, ln.Addr(), st.Kind, from, *idle, cookieCfg.AbsoluteTimeout)
	fmt.Fprintln(env.Stdout, "sign in as alice / wonderland or bob / builder")

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fail(env, "demo", 1, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(shutdown)
	}
	return 0
}

// demoKeys returns where the keyring comes from: LATCH_KEYS or
// LATCH_KEYS_FILE when set, otherwise the demo's keyring file in dir, made
// with a new random key on first start. A file is read again every second,
// as any application's would be (latch.FileKeys); a weak key makes latch.New
// fail, and a bad change is refused while the demo runs on.
func demoKeys(env *Env, dir string) (latch.KeySource, string, error) {
	if path := env.Getenv(latch.EnvKeysFile); env.Getenv(latch.EnvKeys) == "" && path != "" {
		src, err := latch.KeysFromEnvFunc(env.Getenv)
		return src, path + " (" + latch.EnvKeysFile + ", reloaded when it changes)", err
	}
	if env.Getenv(latch.EnvKeys) != "" {
		src, err := latch.KeysFromEnvFunc(env.Getenv)
		return src, latch.EnvKeys, err
	}
	path := filepath.Join(dir, demoKeysFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		entry := latch.Key{ID: keyIDForToday(), Secret: latch.GenerateKey()}.SecretEntry()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", fmt.Errorf("create keyring: %w", err)
		}
		_, werr := fmt.Fprintf(f, "# latch keyring: first entry signs, the others verify. Keep this file secret.\n%s\n", entry)
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, "", fmt.Errorf("write keyring: %w", err)
		}
		fmt.Fprintf(env.Stdout, "generated a new secret key into %s (mode 0600)\n", path)
	}
	return latch.FileKeys(path), path + " (reloaded when it changes)", nil
}

func keyIDForToday() string { return time.Now().UTC().Format("20060102") }

// selfSigned makes a certificate for localhost, valid for 30 days, and
// writes it (not the private key) to certFile so that clients can trust it.
func selfSigned(certFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"latch demo"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, pemBytes, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("write certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
