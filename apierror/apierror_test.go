package apierror

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func response(status int, header map[string]string) *http.Response {
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return &http.Response{StatusCode: status, Header: h}
}

func TestFromResponse(t *testing.T) {
	fixture, err := os.ReadFile("../../shared/fixtures/cloudconvert-sdk/cloudconvert-php/tests/Unit/responses/error400.json")
	if err != nil {
		t.Skip("shared fixtures not present:", err)
	}
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		want     string
		sentinel error
	}{
		{"validation fixture", 400, nil, string(fixture), "400 INVALID_DATA: The given data was invalid. (status: Cannot change status: task already completed.)", ErrValidation},
		{"unauthorized", 401, nil, `{"message":"Unauthenticated.","code":"UNAUTHENTICATED"}`, "401 UNAUTHENTICATED: Unauthenticated.", ErrUnauthorized},
		{"credits", 402, nil, `{"message":"Credits exceeded","code":"CREDITS_EXCEEDED"}`, "402 CREDITS_EXCEEDED: Credits exceeded", ErrCreditsExceeded},
		{"not found", 404, nil, `{"message":"Not found","code":"NOT_FOUND"}`, "404 NOT_FOUND: Not found", ErrNotFound},
		{"rate limited", 429, map[string]string{"Retry-After": "7", "X-Ratelimit-Limit": "500", "X-Ratelimit-Remaining": "0"}, `{"message":"Too Many Attempts.","code":"RATE_LIMIT"}`, "429 RATE_LIMIT: Too Many Attempts. (retry after 7s)", ErrRateLimited},
		{"html 502", 502, map[string]string{"Content-Type": "text/html"}, "<html><head><title>502 Bad Gateway</title></head><body>" + strings.Repeat("x", 5000) + "</body></html>", "502: non-JSON error page: 502 Bad Gateway", ErrServer},
		{"empty 503", 503, nil, "", "503: empty response body", ErrServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := FromResponse(response(tt.status, tt.header), []byte(tt.body))
			if e.Error() != tt.want {
				t.Errorf("Error() = %q\nwant      %q", e.Error(), tt.want)
			}
			if !errors.Is(e, tt.sentinel) {
				t.Errorf("errors.Is(%v) = false", tt.sentinel)
			}
			var as *Error
			if !errors.As(error(e), &as) || as.Status != tt.status {
				t.Errorf("errors.As failed")
			}
		})
	}
	rl := FromResponse(response(429, map[string]string{"X-Ratelimit-Limit": "500", "X-Ratelimit-Remaining": "0"}), nil)
	if rl.RateLimit.Limit != 500 || rl.RateLimit.Remaining != 0 {
		t.Errorf("rate limit = %+v", rl.RateLimit)
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := retryAfter(now.Add(30*time.Second).Format(http.TimeFormat), now); got != 30*time.Second {
		t.Errorf("retryAfter = %v", got)
	}
	if got := retryAfter("soon", now); got != 0 {
		t.Errorf("retryAfter(garbage) = %v", got)
	}
}
