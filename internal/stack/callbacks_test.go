package stack

import (
	"testing"

	"github.com/portway/portway/internal/egress"
)

func TestListenerDeny(t *testing.T) {
	for _, tt := range []struct{ listen, url, want string }{
		{"127.0.0.1:0", "http://127.0.0.1:43210", "127.0.0.1:43210"},
		{"localhost:8080", "http://127.0.0.1:8080", "127.0.0.1:8080"},
		{"[::1]:0", "http://[::1]:5555", "[::1]:5555"},
		// On every address: the port on each of the machine's addresses
		// (auth reports such a listener as 127.0.0.1).
		{":8080", "http://[::]:8080", "0.0.0.0:8080"},
		{"0.0.0.0:0", "http://127.0.0.1:5555", "0.0.0.0:5555"},
		{"[::]:8082", "http://[::]:8082", "0.0.0.0:8082"},
	} {
		got, err := listenerDeny(tt.listen, tt.url)
		if err != nil || got != tt.want {
			t.Errorf("listenerDeny(%q, %q) = %q, %v; want %q", tt.listen, tt.url, got, err, tt.want)
			continue
		}
		if err := (egress.Config{Deny: []string{got}}).Validate(); err != nil {
			t.Errorf("%q is not a deny entry: %v", got, err)
		}
	}
	if _, err := listenerDeny("127.0.0.1:0", "http://auth.example.org"); err == nil {
		t.Error("a bound URL without an IP:port passed")
	}
}
