package schemas

// Doc is the stable JSON form of a schema, written to <lake>/<table>/_schema.json
// and to the "txlake.schema" Parquet key-value metadata. Fields are in schema
// order; empty optional parts are omitted. Defaults are filled in (from,
// formats, dictionary), so a Doc describes exactly what was applied.
type Doc struct {
	Table     string   `json:"table"`
	EventTime string   `json:"event_time"`
	Key       []string `json:"key,omitempty"`
	// UpdatePolicy and Version are omitted for the default policy.
	UpdatePolicy string     `json:"update_policy,omitempty"`
	Version      string     `json:"version,omitempty"`
	Fingerprint  string     `json:"fingerprint"`
	Fields       []FieldDoc `json:"fields"`
}

// FieldDoc is one field of a Doc. Min and Max are the bounds as canonical
// decimal text (exact for decimal fields). PII is omitted for "keep".
type FieldDoc struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Required   bool     `json:"required"`
	From       []string `json:"from,omitempty"`
	Normalize  []string `json:"normalize,omitempty"`
	Enum       []string `json:"enum,omitempty"`
	Min        string   `json:"min,omitempty"`
	Max        string   `json:"max,omitempty"`
	Pattern    string   `json:"pattern,omitempty"`
	Formats    []string `json:"formats,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	PII        string   `json:"pii,omitempty"`
	Dictionary bool     `json:"dictionary,omitempty"`
}

// Doc returns the stable JSON form of s. The slices are copies.
func (s *Schema) Doc() Doc {
	d := Doc{Table: s.Table, EventTime: s.EventTime, Key: clone(s.Key), Fingerprint: s.Fingerprint,
		Fields: make([]FieldDoc, len(s.Fields)), Version: s.Version}
	if s.UpdatePolicy == UpdateReplace {
		d.UpdatePolicy = s.UpdatePolicy
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		fd := FieldDoc{Name: f.Name, Type: f.Type.String(), Required: f.Required, From: clone(f.From),
			Normalize: clone(f.Normalize), Enum: clone(f.Enum), Min: f.MinText, Max: f.MaxText,
			Pattern: f.PatternText, Formats: clone(f.Formats), Tags: clone(f.Tags), Dictionary: f.Dictionary}
		if f.PII != PIIKeep {
			fd.PII = f.PII
		}
		d.Fields[i] = fd
	}
	return d
}

func clone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}
