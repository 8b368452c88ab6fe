package tagging

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		tag  string
		want string // substring of the error; "" for valid
	}{
		{"pii", ""},
		{"pii:email", ""},
		{"id:transaction", ""},
		{"money:amount", ""},
		{"geo:country", ""},
		{"time:event", ""},
		{"gdpr", ""},
		{"finance-reporting", ""},
		{"money", "is a namespace"},
		{"id", "is a namespace"},
		{"foo:bar", "unknown namespace"},
		{"pii:", "the name after"},
		{"pii:Email", "the name after"},
		{"Gdpr", "free tag"},
		{"a b", "free tag"},
		{"", "free tag"},
		{"pii:email:x", "the name after"},
	} {
		t.Run(tt.tag, func(t *testing.T) {
			err := Validate(tt.tag)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate(%q) = %v, want nil", tt.tag, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate(%q) = %v, want an error containing %q", tt.tag, err, tt.want)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	if !IsPII([]string{"money:amount", "pii:email"}) || !IsPII([]string{"pii"}) || IsPII([]string{"piiish"}) {
		t.Fatal("IsPII")
	}
	if !IsID([]string{"id:customer"}) || IsID([]string{"idea"}) {
		t.Fatal("IsID")
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"pii", "pii:email", "foo:bar", "", "gdpr"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		if Validate(tag) == nil && strings.ContainsAny(tag, " ,\t\n/\x00") {
			t.Fatalf("accepted %q", tag)
		}
	})
}
