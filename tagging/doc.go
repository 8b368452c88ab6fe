// Package tagging defines the vocabulary of field tags: what each field of
// a table is (PII, money, an identifier, a location, a time), so that
// drift reports, PII policies and fraud models can treat fields by role
// without every consumer re-deriving the same facts.
//
// A tag is either a namespaced tag, "<namespace>:<name>", whose namespace
// is one of the documented ones (pii, id, money, geo, time), or a free tag
// without a colon ("gdpr", "finance_reporting"). The bare tag "pii" marks a
// field as personal data without saying which kind.
package tagging
