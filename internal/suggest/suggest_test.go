package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"tasks", "tag", "webhook_url"}
	tests := []struct{ in, want string }{
		{"task", "tasks"},
		{"tags", "tag"},
		{"webhookurl", "webhook_url"},
		{"zzzzzz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Closest(tt.in, known); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := DidYouMean("task", known); got != ` (did you mean "tasks"?)` {
		t.Errorf("DidYouMean = %q", got)
	}
}
