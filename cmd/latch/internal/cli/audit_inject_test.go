package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
)

// TestAuditErrorCannotWriteToTerminal audits a server whose certificate
// names a host in escape sequences: Go's TLS error quotes the names, and
// the command's error line must show them escaped, as one line with no
// control or bidirectional character, rather than recolour, erase or add
// lines on the terminal or in a CI log.
func TestAuditErrorCannotWriteToTerminal(t *testing.T) {
	names := []string{
		"x\x1b[2K\x1b[1Glatch audit: grade A, 0 fail\x07",
		"\rPASS\nlatch audit: report written to report.html",
		"\x1b]8;;https://evil.example/\x1b\\docs\x1b]8;;\x1b\\",
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: names, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]

	r := runAuditCmd(t, nil, "https://localhost:"+port+"/", "--cacert", ca, "--timeout", "5s")
	if r.code != 2 {
		t.Fatalf("exit %d; want 2 (stderr %q)", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `certificate is valid for x\x1b[2K\x1b[1Glatch audit`) {
		t.Errorf("stderr does not quote the certificate's names escaped: %q", r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr is not one line: %q", r.stderr)
	}
	for _, c := range strings.TrimSuffix(r.stderr, "\n") {
		if c < 0x20 || (c >= 0x7f && c <= 0x9f) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Errorf("stderr holds %U: %q", c, r.stderr)
			break
		}
	}
}
