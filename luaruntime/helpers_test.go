package luaruntime

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cctoolkit/cloudconvert/internal/testcache"

	"github.com/cctoolkit/cloudconvert/accounts"
	cloudconvert "github.com/cctoolkit/cloudconvert/generated/cloudconvert"
	"github.com/cctoolkit/cloudconvert/integration/invoke"
	"github.com/cctoolkit/cloudconvert/integration/transport"
	"github.com/cctoolkit/cloudconvert/internal/localtest"
)

const testKey = "sk-test-SECRET-0123456789abcdef"

// fixtureDir holds the official PHP SDK's recorded CloudConvert responses.
const fixtureDir = "../../shared/fixtures/cloudconvert-sdk/cloudconvert-php/tests/Unit/responses"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// pdfiumCache is PDFium's compile cache for the local servers of this test
// binary run: a temp dir, never the user's ~/.cache.
var pdfiumCache string

func TestMain(m *testing.M) {
	dir, cleanup, err := testcache.PDFium("luaruntime-pdfium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pdfiumCache = dir
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// newLocalAPI starts the real local server (see localtest) for one test.
func newLocalAPI(t testing.TB) *localtest.Server {
	t.Helper()
	return localtest.Start(t, localtest.Options{APIKey: testKey, PDFiumCacheDir: pdfiumCache})
}

type localRequest = localtest.Request

// newFileServer serves h on loopback (inputs for import/url, webhook
// receivers) until the test ends.
func newFileServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// testAccounts points the default account and the named "staging" and
// "production" accounts at a server root.
func testAccounts(root string) *accounts.Set {
	acct := func(name string) *accounts.Account {
		return &accounts.Account{Name: name, APIKey: accounts.NewSecret(testKey), BaseURL: root + "/v2", SyncURL: root + "/sync/v2", Source: "test"}
	}
	return accounts.NewSet(acct(accounts.DefaultName), acct("staging"), acct("production"))
}

// rtOptions are what a test varies of a runtime.
type rtOptions struct {
	accounts *accounts.Set // default: testAccounts(root)
	policy   invoke.Policy // default: reads and writes allowed
	approver invoke.Approver
	denyHint string
	noAcct   string
	limits   Limits
	poll     time.Duration // the invoker's PollInterval; default 20ms
	// fastRetry sends through a transport whose backoff starts at 5ms
	// instead of 500ms (for tests that make the transport retry).
	fastRetry bool
	workspace string // the invoker's Workspace (upload_file, download_file)
}

// newTestRuntime makes a runtime over the CloudConvert descriptor whose
// calls go to root (a server's root URL) through the invoker's own
// transport.
func newTestRuntime(t testing.TB, root string, o rtOptions) *Runtime {
	t.Helper()
	if o.accounts == nil {
		o.accounts = testAccounts(root)
	}
	if o.policy == (invoke.Policy{}) {
		o.policy = invoke.Headless(true)
	}
	if o.poll == 0 {
		o.poll = 20 * time.Millisecond
	}
	var hc *http.Client
	if o.fastRetry {
		hc = transport.New(transport.Options{
			Policy:    transport.Policy{InitialInterval: 5 * time.Millisecond, MaxInterval: 50 * time.Millisecond},
			UserAgent: "luaruntime-test", Secrets: []string{testKey},
		}).Client()
	}
	inv, err := invoke.New(invoke.Options{
		Integration: cloudconvert.Descriptor(), Accounts: o.accounts, Policy: o.policy, Approver: o.approver,
		DenyHint: o.denyHint, NoAccountHint: o.noAcct, PollInterval: o.poll, UserAgent: "luaruntime-test", HTTPClient: hc,
		Workspace: o.workspace,
	})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := New(Options{Invoker: inv, Limits: o.limits})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
