package lazyre

import "testing"

func TestNew(t *testing.T) {
	re := New(`^[a-z]{1,3}$`)
	if !re().MatchString("abc") || re().MatchString("abcd") {
		t.Fatal("wrong matches")
	}
	if re() != re() {
		t.Fatal("compiled more than once")
	}
}
