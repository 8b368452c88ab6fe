package schemas

import (
	"fmt"
	"testing"
)

// strCache agrees with a Go map through its growths, for the empty key and
// keys that differ only in their ends, and switches off at memoLimit.
func TestStrCache(t *testing.T) {
	var c strCache
	want := map[string]string{}
	keys := []string{"", " ", "a", "A", "usd", "USD ", " USD"}
	for i := range memoLimit {
		keys = append(keys, fmt.Sprintf("m_%05d", i), fmt.Sprintf("%05d_m", i))
	}
	for i, k := range keys {
		if _, ok := c.get([]byte(k)); ok {
			t.Fatalf("%q found before it was added", k)
		}
		if c.off {
			break
		}
		v := fmt.Sprint(i)
		c.add(k, v)
		if c.off {
			if i+1 != memoLimit {
				t.Fatalf("off after %d keys, want %d", i+1, memoLimit)
			}
			break
		}
		want[k] = v
		for k2, v2 := range map[string]string{k: v, keys[i/2]: want[keys[i/2]]} {
			if got, ok := c.get([]byte(k2)); !ok || got != v2 {
				t.Fatalf("after %d keys: get(%q) = %q, %v; want %q", i+1, k2, got, ok, v2)
			}
		}
	}
	if !c.off {
		t.Fatal("not off after memoLimit keys")
	}
	if _, ok := c.get([]byte("usd")); ok {
		t.Fatal("a switched-off cache found a key")
	}
	c.add("usd", "x")
	if _, ok := c.get([]byte("usd")); ok || c.n != 0 {
		t.Fatal("a switched-off cache took a key")
	}
}
