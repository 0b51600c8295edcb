package redisurl_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cachet-go/cachet"
	"github.com/cachet-go/cachet/codec"
	"github.com/cachet-go/cachet/internal/testserver"
)

// writeSelfSigned writes a self-signed certificate and key for 127.0.0.1
// into dir and returns their paths.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cachet test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// A rediss URL talks TLS to a real redis-server that listens with TLS on
// one port (and in plain text on another, used here only to check what
// was written).
func TestOpenURL_TLSServer(t *testing.T) {
	ctx := context.Background()
	certFile, keyFile := writeSelfSigned(t, t.TempDir())
	tlsPort, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.Redis(t,
		"--tls-port", strconv.Itoa(tlsPort),
		"--tls-cert-file", certFile,
		"--tls-key-file", keyFile,
		"--tls-ca-cert-file", certFile,
		"--tls-auth-clients", "no")
	tlsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))

	c, err := cachet.OpenCache[string]("rediss://"+tlsAddr+"/0?skip_verify=true&timeout=2s&namespace=tls",
		codec.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", "over TLS"); err != nil {
		t.Fatalf("Set over rediss: %v", err)
	}
	if v, err := c.Get(ctx, "k"); err != nil || v != "over TLS" {
		t.Fatalf("Get over rediss = %q, %v; want the value just set", v, err)
	}
	if v, err := testserver.RedisCommand(srv.Addr, "GET", "tls:k"); err != nil || string(stripEntry([]byte(v))) != "over TLS" {
		t.Fatalf("GET tls:k on the plain port = %q, %v; want the value written over TLS", v, err)
	}

	// The same port in plain text does not answer: the store above
	// really spoke TLS.
	plain, err := cachet.OpenCache[string]("redis://"+tlsAddr+"/0?timeout=300ms&max_retries=-1", codec.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Get(ctx, "k"); err == nil {
		t.Fatal("a plain-text Get on the TLS port succeeded; want an error")
	}
}
