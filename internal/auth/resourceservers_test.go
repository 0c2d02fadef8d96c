package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCreateResourceServer: a created resource server is listed after the
// configured ones, its scopes can be granted at once, and it survives a
// restart (another Server on the same state dir sees it).
func TestCreateResourceServer(t *testing.T) {
	cfg := testConfig(t, newFakeClock())
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.CreateResourceServer(ResourceServerInfo{Identifier: "reports", Name: "Reports",
		Scopes: []ScopeInfo{{Name: "read", Description: "Read reports"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Name != "Reports" || rs.CreatedAt.IsZero() || rs.Configured {
		t.Errorf("created: %+v", rs)
	}
	all := s.ResourceServers()
	if len(all) != 2 || !all[0].Configured || all[0].Identifier != testRSID || all[1].Identifier != "reports" || all[1].Scopes[0].Description != "Read reports" {
		t.Errorf("ResourceServers: %+v", all)
	}
	if _, _, err := s.Clients().Create("r", []string{"reports/read"}, 0); err != nil {
		t.Errorf("a client with the new scope: %v", err)
	}
	if got := s.Scopes(); len(got) != 3 || got[2] != "reports/read" {
		t.Errorf("Scopes: %v", got)
	}

	for _, tc := range []struct {
		rs   ResourceServerInfo
		want error
	}{
		{ResourceServerInfo{Identifier: "reports", Name: "x"}, ErrResourceServerExists},
		{ResourceServerInfo{Identifier: testRSID, Name: "x"}, ErrResourceServerExists},
		{ResourceServerInfo{Identifier: "has space", Name: "x"}, ErrResourceServerInvalid},
		{ResourceServerInfo{Identifier: "ok", Name: "x", Scopes: []ScopeInfo{{Name: "a/b", Description: "d"}}}, ErrResourceServerInvalid},
		{ResourceServerInfo{Identifier: "ok", Name: "x", Scopes: []ScopeInfo{{Name: "a"}}}, ErrResourceServerInvalid},
		{ResourceServerInfo{Identifier: "ok", Name: "x", Scopes: []ScopeInfo{{Name: "a", Description: "d"}, {Name: "a", Description: "d"}}}, ErrResourceServerInvalid},
	} {
		if _, err := s.CreateResourceServer(tc.rs); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.rs, err, tc.want)
		}
	}

	// A restart (or another process) reads the file.
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if all := s2.ResourceServers(); len(all) != 2 || all[1].Name != "Reports" {
		t.Errorf("after a restart: %+v", all)
	}
	if _, err := s2.CreateResourceServer(ResourceServerInfo{Identifier: "more", Name: "More"}); err != nil {
		t.Fatal(err)
	}
	if all := s.ResourceServers(); len(all) != 3 || all[2].Identifier != "more" {
		t.Errorf("the first server does not see the second's change: %+v", all)
	}

	// A broken file keeps the last good list.
	path := filepath.Join(cfg.StateDir, "auth", resourceServersFileName)
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if all := s.ResourceServers(); len(all) != 3 {
		t.Errorf("after the file broke: %+v", all)
	}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), resourceServersFileName) {
		t.Errorf("New with a broken file: %v", err)
	}
}
