package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestFinding8ServeRefusesPublicAddressWithoutKey: serve beyond loopback
// with the well-known default key used to listen silently; now it exits
// non-zero saying why, before listening.
func TestFinding8ServeRefusesPublicAddressWithoutKey(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "example.com:8080"} {
		code, stdout, stderr := run(t, map[string]string{}, "serve", "--addr", addr)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "listens beyond this machine") || !strings.Contains(stderr, "--api-key") {
			t.Errorf("--addr %s: exit %d, stdout %q, stderr %q", addr, code, stdout, stderr)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:1": true, "[::1]:0": true, "127.1.2.3:0": true, "0.0.0.0:1": false, "10.0.0.1:1": false} {
		if got := loopbackAddr(addr); got != want {
			t.Errorf("loopbackAddr(%s) = %v", addr, got)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFinding8ServePrintsWhereTheWebhookSecretIs: the secret is random per
// data dir; serve tells where it is, never what it is.
func TestFinding8ServePrintsWhereTheWebhookSecretIs(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "accounts.yaml")
	os.WriteFile(cfg, []byte("accounts: {}\n"), 0o600)
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--config", cfg}, strings.NewReader(""), io.Discard, &stderr,
			func(string) string { return "" }, func() []string { return nil })
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stderr.String(), "webhooks are signed") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT) // serve handles it: it stops
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	path := filepath.Join(dir, "webhook-secret")
	secret, err := os.ReadFile(path)
	if err != nil || !strings.Contains(stderr.String(), "webhooks are signed with the secret in "+path) {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), strings.TrimSpace(string(secret))) {
		t.Errorf("serve printed the secret")
	}
}
