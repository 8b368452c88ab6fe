package schemas

import (
	"strings"
	"testing"
)

func TestUpdatePolicy(t *testing.T) {
	base := strings.Replace(goodSchema, "key: [id]\n", "", 1)
	cases := []struct {
		name, head, want string
		policy           string
		version          int
	}{
		{"default", "key: [id]\n", "", UpdateDuplicate, -1},
		{"explicit duplicate", "key: [id]\nupdate_policy: duplicate\n", "", UpdateDuplicate, -1},
		{"replace", "key: [id]\nupdate_policy: replace\nversion: created_at\n", "", UpdateReplace, 2},
		{"replace by a decimal", "key: [id]\nupdate_policy: replace\nversion: amount\n", "", UpdateReplace, 1},
		{"unknown policy", "key: [id]\nupdate_policy: merge\n", `update_policy "merge": want duplicate`, "", 0},
		{"replace without version", "key: [id]\nupdate_policy: replace\n", `needs "version"`, "", 0},
		{"replace without key", "update_policy: replace\nversion: created_at\n", `needs a "key"`, "", 0},
		{"version without replace", "key: [id]\nversion: created_at\n", "applies only with update_policy: replace", "", 0},
		{"unknown version field", "key: [id]\nupdate_policy: replace\nversion: nope\n", `unknown field "nope"`, "", 0},
		{"string version", "key: [id]\nupdate_policy: replace\nversion: id\n", "must be an int64, decimal, timestamp or date", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, "fields:\n", tc.head+"fields:\n", 1)
			s, err := Parse("s.yaml", []byte(src))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.UpdatePolicy != tc.policy || s.VersionIndex != tc.version {
				t.Fatalf("policy %q version %d, want %q %d", s.UpdatePolicy, s.VersionIndex, tc.policy, tc.version)
			}
		})
	}
	// The default policy keeps the fingerprint of a schema without the keys.
	a, _ := Parse("a.yaml", []byte(goodSchema))
	b, _ := Parse("b.yaml", []byte(strings.Replace(goodSchema, "key: [id]\n", "key: [id]\nupdate_policy: duplicate\n", 1)))
	c, _ := Parse("c.yaml", []byte(strings.Replace(goodSchema, "key: [id]\n", "key: [id]\nupdate_policy: replace\nversion: created_at\n", 1)))
	if a.Fingerprint != b.Fingerprint || a.Fingerprint == c.Fingerprint {
		t.Errorf("fingerprints: default %s, explicit duplicate %s, replace %s", a.Fingerprint, b.Fingerprint, c.Fingerprint)
	}
}
