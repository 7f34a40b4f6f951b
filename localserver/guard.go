package localserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// The server fetches URLs on behalf of its clients (import/url, webhooks,
// capture-website). Like the real service it reaches public addresses
// only: otherwise anyone who may create a task could read internal
// services and cloud metadata through import/url -> export/url. The check
// runs when a connection is dialled, after DNS resolution, so neither a
// name that resolves to a private address nor a redirect to one (every
// redirect dials anew) gets around it.

// blockedError says that an address was refused; errors.As finds it
// through the url.Error and net.OpError around it.
type blockedError struct {
	addr   netip.Addr
	reason string
}

func (e *blockedError) Error() string {
	return fmt.Sprintf("%s is %s; the local server only fetches public addresses (start it with --allow-private-urls, or Config.AllowPrivateURLs, to allow private ones)", e.addr, e.reason)
}

// special lists ranges that are not public beyond what netip's predicates
// cover.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network" (unspecified)`},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address, where some clouds serve metadata"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local NAT64 address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
}

// refusal says why addr is not public, or "" when it is.
func refusal(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case !addr.IsValid():
		return "not an IP address"
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsUnspecified():
		return "an unspecified address"
	case addr.IsPrivate():
		return "a private address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata lives there)"
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "a multicast address"
	case addr.Is4() && addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	}
	for _, s := range special {
		if s.prefix.Contains(addr) {
			return s.reason
		}
	}
	// IPv6 forms that embed an IPv4 address: judge the embedded one.
	if addr.Is6() {
		b := addr.As16()
		var v4 netip.Addr
		switch {
		case netip.MustParsePrefix("64:ff9b::/96").Contains(addr): // NAT64
			v4 = netip.AddrFrom4([4]byte(b[12:16]))
		case netip.MustParsePrefix("2002::/16").Contains(addr): // 6to4
			v4 = netip.AddrFrom4([4]byte(b[2:6]))
		case netip.MustParsePrefix("::/96").Contains(addr): // IPv4-compatible
			v4 = netip.AddrFrom4([4]byte(b[12:16]))
		}
		if v4.IsValid() {
			if r := refusal(v4); r != "" {
				return r + " (embedded in an IPv6 address)"
			}
		}
	}
	return ""
}

// guardControl is a net.Dialer Control function that refuses non-public
// addresses; it sees the address actually being connected to.
func guardControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return &blockedError{reason: "not an IP address"}
	}
	if r := refusal(addr); r != "" {
		return &blockedError{addr: addr.Unmap(), reason: r}
	}
	return nil
}

// outbound builds the dialer and client the server fetches with. With
// allowPrivate the environment's proxy is used; without, it is not: the
// check must see the address that is actually dialled.
func outbound(allowPrivate bool, timeout time.Duration) (*net.Dialer, *http.Client) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: time.Minute, MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second}
	if allowPrivate {
		tr.Proxy = http.ProxyFromEnvironment
	} else {
		d.Control = guardControl
	}
	return d, &http.Client{Timeout: timeout, Transport: tr, CheckRedirect: redirectPolicy(nil)}
}

// maxRedirects bounds a redirect chain, like browsers and net/http do.
const maxRedirects = 10

// redirectPolicy follows at most maxRedirects redirects and drops the
// given headers (the client's own, e.g. credentials for the first host)
// whenever a redirect leaves the first request's origin. net/http already
// drops Authorization and Cookie across domains, but not custom headers,
// and it keeps them for subdomains.
func redirectPolicy(userHeaders []string) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		first := via[0].URL
		if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
			for _, h := range userHeaders {
				req.Header.Del(h)
			}
			for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
				req.Header.Del(h)
			}
		}
		return nil
	}
}

// withUserHeaders returns a client like c whose redirects drop headers
// across origins.
func withUserHeaders(c *http.Client, headers []string) *http.Client {
	cc := *c
	cc.CheckRedirect = redirectPolicy(headers)
	return &cc
}

// fetchFailure explains a failed download, naming a refused address.
func fetchFailure(u *url.URL, err error) string {
	var be *blockedError
	if errors.As(err, &be) {
		return fmt.Sprintf("Could not download %s: %s", u.Redacted(), be.Error())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("Could not download %s: the host is unreachable (%v)", u.Redacted(), err)
}

// dialFunc adapts the guarded dialer for the engine (capture-website).
func dialFunc(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.DialContext
}
