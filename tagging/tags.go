package tagging

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Namespaces are the documented tag namespaces and what they mean.
var Namespaces = map[string]string{
	"pii":   "personal data: pii:email, pii:phone, pii:card, pii:name, pii:address, pii:ip, ...",
	"id":    "an identifier of an entity: id:transaction, id:customer, id:merchant, ...",
	"money": "a monetary field: money:amount, money:currency, money:fee, ...",
	"geo":   "a location: geo:country, geo:city, geo:postcode, geo:latlon, ...",
	"time":  "a point in time: time:event, time:ingest, time:settlement, ...",
}

var (
	nameRe = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)
	freeRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
)

// Validate checks one tag. It returns an error that says what is wrong and
// what is accepted.
func Validate(tag string) error {
	ns, name, namespaced := strings.Cut(tag, ":")
	if !namespaced {
		if !freeRe.MatchString(tag) {
			return fmt.Errorf("tag %q: a free tag is lowercase letters, digits, '_' and '-', starting with a letter", tag)
		}
		if _, reserved := Namespaces[tag]; reserved && tag != "pii" {
			return fmt.Errorf("tag %q: %q is a namespace; name the kind, e.g. %s:<name>", tag, tag, tag)
		}
		return nil
	}
	if _, ok := Namespaces[ns]; !ok {
		return fmt.Errorf("tag %q: unknown namespace %q (want one of %s, or a free tag without ':')", tag, ns, strings.Join(NamespaceNames(), ", "))
	}
	if !nameRe.MatchString(name) {
		return fmt.Errorf("tag %q: the name after %q must be lowercase letters, digits, '_', '.' or '-', starting with a letter", tag, ns+":")
	}
	return nil
}

// NamespaceNames returns the namespaces, sorted.
func NamespaceNames() []string {
	out := make([]string, 0, len(Namespaces))
	for k := range Namespaces {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// IsPII reports whether tags mark a field as personal data ("pii" or
// "pii:*").
func IsPII(tags []string) bool { return HasNamespace(tags, "pii") }

// IsID reports whether tags mark a field as an identifier ("id:*").
func IsID(tags []string) bool { return HasNamespace(tags, "id") }

// HasNamespace reports whether any tag is ns or in namespace ns.
func HasNamespace(tags []string, ns string) bool {
	for _, t := range tags {
		if t == ns || strings.HasPrefix(t, ns+":") {
			return true
		}
	}
	return false
}
