package bufpool

import "testing"

func TestPool(t *testing.T) {
	p := New()
	b := p.Get()
	if len(b) != Size {
		t.Fatalf("len %d, want %d", len(b), Size)
	}
	p.Put(b[:10]) // a shortened buffer of the right capacity goes back whole
	if got := p.Get(); len(got) != Size {
		t.Fatalf("len after Put of a resliced buffer %d, want %d", len(got), Size)
	}
	p.Put(make([]byte, 100)) // a foreign buffer is dropped, not lent out
	if got := p.Get(); len(got) != Size {
		t.Fatalf("lent a foreign buffer of len %d", len(got))
	}
}
