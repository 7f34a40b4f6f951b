package accounts

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) Options {
	return Options{
		Getenv: func(k string) string { return m[k] },
		Environ: func() []string {
			var out []string
			for k, v := range m {
				out = append(out, k+"="+v)
			}
			return out
		},
		ConfigPath: "",
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "accounts.yaml")
	os.WriteFile(cfg, []byte("accounts:\n  production:\n    api_key_env: PROD_KEY\n    region: eu-central\n  staging:\n    api_key: stage-key-1234\n    sandbox: true\n  local:\n    base_url: http://127.0.0.1:9/v2\n    socketio_url: http://127.0.0.1:9\n"), 0o600)
	o := env(map[string]string{
		"CLOUDCONVERT_API_KEY":               "default-key-1234",
		"CLOUDCONVERT_BASE_URL":              "http://127.0.0.1:8080/v2",
		"CLOUDCONVERT_SYNC_URL":              "http://127.0.0.1:8080/sync/v2",
		"CLOUDCONVERT_SOCKETIO_URL":          "http://127.0.0.1:8080",
		"CLOUDCONVERT_ACCOUNT_OTHER_API_KEY": "other-key-1234",
		"CLOUDCONVERT_ACCOUNT_OTHER_SANDBOX": "true",
		"PROD_KEY":                           "prod-key-1234",
		"CLOUDCONVERT_CONFIG":                cfg,
	})
	s, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), ","); got != "local,other,production,staging" {
		t.Fatalf("names %s", got)
	}
	d, _ := s.Get("")
	if d.APIKey.Reveal() != "default-key-1234" || d.ServerURL("api", true, "L", "S", "R") != "http://127.0.0.1:8080/v2" || d.ServerURL("sync", false, "L", "S", "R") != "http://127.0.0.1:8080/sync/v2" {
		t.Fatalf("default %+v", d)
	}
	p, _ := s.Get("production")
	if p.ServerURL("api", true, "https://api/v2", "https://sandbox/v2", "https://{region}.api/v2") != "https://eu-central.api/v2" {
		t.Fatal("region URL")
	}
	st, _ := s.Get("staging")
	if st.ServerURL("api", true, "https://api/v2", "https://sandbox/v2", "") != "https://sandbox/v2" {
		t.Fatal("sandbox URL")
	}
	// The realtime host: the account's own, else the family's (one host
	// for every region), else unknown beside a custom base URL.
	const sioLive, sioSandbox = "https://socketio", "https://socketio.sandbox"
	if got := d.ServerURL("socketio", false, sioLive, sioSandbox, ""); got != "http://127.0.0.1:8080" {
		t.Errorf("default socketio %q", got)
	}
	if l, _ := s.Get("local"); l.ServerURL("socketio", false, sioLive, sioSandbox, "") != "http://127.0.0.1:9" || l.ServerURL("sync", false, "L", "S", "") != "" {
		t.Errorf("config file socketio_url: %+v", l)
	}
	if p.ServerURL("socketio", false, sioLive, sioSandbox, "") != sioLive || st.ServerURL("socketio", false, sioLive, sioSandbox, "") != sioSandbox {
		t.Error("socketio of a region or sandbox account")
	}
	_, err = s.Get("prod")
	if err == nil || err.Error() != `account "prod" is not configured; configured accounts: default, local, other, production, staging` {
		t.Fatalf("unknown: %v", err)
	}
	// Keys never print.
	out := fmt.Sprintf("%v %+v %#v %s", d, d, d, d.APIKey)
	js, _ := json.Marshal(s)
	js2, _ := json.Marshal(d)
	for _, text := range []string{out, string(js), string(js2)} {
		for _, k := range []string{"default-key-1234", "prod-key-1234", "stage-key-1234", "other-key-1234"} {
			if strings.Contains(text, k) {
				t.Fatalf("key printed: %s", text)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("accounts:\n  prod:\n    apikey: x\n"), 0o600)
	missingEnv := filepath.Join(dir, "env.yaml")
	os.WriteFile(missingEnv, []byte("accounts:\n  prod:\n    api_key_env: NOPE\n"), 0o600)
	for path, want := range map[string]string{
		bad:                        "field apikey not found",
		missingEnv:                 "$NOPE, which is not set",
		filepath.Join(dir, "none"): "no such file",
	} {
		o := env(map[string]string{})
		o.ConfigPath = path
		if _, err := Load(o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", path, err)
		}
	}
	s, err := Load(env(map[string]string{"HOME": dir, "XDG_CONFIG_HOME": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(""); err != ErrNoDefault {
		t.Fatalf("%v", err)
	}
}

// A base URL selects a server with or without a key: the default account
// from $CLOUDCONVERT_BASE_URL alone, a named one from _BASE_URL alone or a
// config entry with base_url and no key.
func TestBaseURLWithoutKey(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "accounts.yaml")
	os.WriteFile(cfg, []byte("accounts:\n  lab:\n    base_url: http://127.0.0.1:9/v2\n  nokey:\n    region: eu-central\n"), 0o600)
	o := env(map[string]string{
		"CLOUDCONVERT_BASE_URL":                "http://127.0.0.1:8080/v2",
		"CLOUDCONVERT_ACCOUNT_SHARED_BASE_URL": "http://127.0.0.1:8081/v2",
	})
	o.ConfigPath = cfg
	if _, err := Load(o); err == nil || !strings.Contains(err.Error(), `account "nokey" has no api_key`) {
		t.Fatalf("an account with neither key nor base_url: %v", err)
	}
	os.WriteFile(cfg, []byte("accounts:\n  lab:\n    base_url: http://127.0.0.1:9/v2\n"), 0o600)
	s, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, url, source string }{
		{"", "http://127.0.0.1:8080/v2", "$CLOUDCONVERT_BASE_URL (no $CLOUDCONVERT_API_KEY)"},
		{"shared", "http://127.0.0.1:8081/v2", "$CLOUDCONVERT_ACCOUNT_SHARED_BASE_URL"},
		{"lab", "http://127.0.0.1:9/v2", "config file"},
	} {
		a, err := s.Get(c.name)
		if err != nil {
			t.Fatalf("%q: %v", c.name, err)
		}
		if !a.APIKey.IsZero() || a.BaseURL != c.url || !strings.Contains(a.Source, c.source) {
			t.Errorf("%q: %+v", c.name, a)
		}
	}
}

// SetDefaultFunc is called only when the default account is asked for.
func TestDefaultFunc(t *testing.T) {
	s := NewSet(nil, &Account{Name: "other", APIKey: NewSecret("k-other")})
	calls := 0
	s.SetDefaultFunc(func() (*Account, error) {
		calls++
		if calls == 2 {
			return nil, fmt.Errorf("the server did not start")
		}
		return &Account{Name: DefaultName, BaseURL: "http://127.0.0.1:1/v2"}, nil
	})
	if s.Default() != nil || !s.HasDefault() {
		t.Fatal("Default() must not resolve")
	}
	if _, err := s.Get("other"); err != nil || calls != 0 {
		t.Fatalf("a named account resolved the default: %v, %d calls", err, calls)
	}
	if _, err := s.Get("nope"); err == nil || !strings.Contains(err.Error(), "configured accounts: default, other") || calls != 0 {
		t.Fatalf("unknown: %v, %d calls", err, calls)
	}
	if a, err := s.Get(""); err != nil || a.BaseURL != "http://127.0.0.1:1/v2" {
		t.Fatalf("%v %v", a, err)
	}
	if _, err := s.Get(DefaultName); err == nil || err.Error() != "the server did not start" {
		t.Fatalf("the func's error: %v", err)
	}
}

// TestPermissions: permissions from the config file, kept when the
// environment redefines the account, copied to the default account it
// names, refused when misspelt, and shared by every account with the same
// key (the strictest wins).
func TestPermissions(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "accounts.yaml")
	os.WriteFile(cfg, []byte(`default: production
accounts:
  production:
    api_key: prod-key-1234
    permissions: {write: deny}
  staging:
    api_key: stage-key-1234
    permissions: {read: allow, write: allow}
  careful:
    api_key: careful-key-1234
    permissions: {write: ask}
  loose:
    api_key: careful-key-1234
    permissions: {read: ask, write: allow}
  plain:
    api_key: plain-key-1234
`), 0o600)
	o := env(map[string]string{
		"CLOUDCONVERT_CONFIG":                  cfg,
		"CLOUDCONVERT_ACCOUNT_STAGING_API_KEY": "stage-key-from-env",
		"CLOUDCONVERT_ACCOUNT_ALIAS_API_KEY":   "prod-key-1234",
	})
	s, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *Account {
		a, err := s.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		account, kind, want, from string
	}{
		{"production", "write", Deny, "production"},
		{"production", "read", "", ""},
		{"default", "write", Deny, "default"}, // the copy of production
		{"alias", "write", Deny, "default"},   // the same key as production (and its default copy)
		{"alias", "read", "", ""},
		{"staging", "write", Allow, "staging"}, // redefined by the environment, permissions kept
		{"careful", "write", Ask, "careful"},   // loose allows, with the same key: the stricter wins
		{"loose", "write", Ask, "careful"},
		{"careful", "read", Ask, "loose"},
		{"plain", "write", "", ""},
	} {
		d, from := s.Permission(get(tc.account), tc.kind)
		name := ""
		if from != nil {
			name = from.Name
		}
		if d != tc.want || name != tc.from {
			t.Errorf("%s %s: %q from %q, want %q from %q", tc.account, tc.kind, d, name, tc.want, tc.from)
		}
	}
	if st := get("staging"); st.APIKey.Reveal() != "stage-key-from-env" || !strings.Contains(st.Source, "permissions from config file") {
		t.Errorf("staging: %+v", st)
	}
	if b, _ := json.Marshal(s); !strings.Contains(string(b), `"permissions":{"write":"deny"}`) {
		t.Errorf("JSON: %s", b)
	}

	bad := filepath.Join(dir, "bad.yaml")
	for text, want := range map[string]string{
		"accounts:\n  p:\n    api_key: k\n    permissions: {write: maybe}\n": `account "p": permissions.write must be allow, ask or deny, got "maybe"`,
		"accounts:\n  p:\n    api_key: k\n    permissions: {writes: deny}\n": "field writes not found",
	} {
		os.WriteFile(bad, []byte(text), 0o600)
		o := env(map[string]string{})
		o.ConfigPath = bad
		if _, err := Load(o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
