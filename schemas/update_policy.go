package schemas

// updatePolicy parses the schema's update_policy and version keys:
//
//	update_policy: replace   # duplicate (default) | replace
//	version: updated_at      # int64, decimal, timestamp or date field
func (p *schemaParser) updatePolicy(s *Schema, top map[string]entry) *SchemaError {
	s.UpdatePolicy, s.VersionIndex = UpdateDuplicate, -1
	if e, ok := top["update_policy"]; ok {
		v, err := p.str(e, "schema", "update_policy")
		if err != nil {
			return err
		}
		switch v {
		case UpdateDuplicate, UpdateReplace:
			s.UpdatePolicy = v
		default:
			return p.errAt(e.Key, "update_policy %q: want duplicate (the default) or replace", v)
		}
	}
	e, ok := top["version"]
	if !ok {
		if s.UpdatePolicy == UpdateReplace {
			return p.errAt(top["update_policy"].Key, `update_policy: replace needs "version": the field (for example updated_at) whose greater value marks the newer row`)
		}
		return nil
	}
	if s.UpdatePolicy != UpdateReplace {
		return p.errAt(e.Key, `"version" applies only with update_policy: replace`)
	}
	if len(s.KeyIndex) == 0 {
		return p.errAt(top["update_policy"].Key, `update_policy: replace needs a "key" to know which rows are versions of one another`)
	}
	name, err := p.str(e, "schema", "version")
	if err != nil {
		return err
	}
	i := s.index(name)
	if i < 0 {
		return p.errAt(e.Key, "version names unknown field %q", name)
	}
	switch f := &s.Fields[i]; f.Type.Kind {
	case KindInt64, KindDecimal, KindTimestamp, KindDate:
		if f.PII == PIIDrop {
			return p.errAt(e.Key, "field %q: the version field cannot have pii: drop (it would not be stored)", name)
		}
	default:
		return p.errAt(e.Key, "version field %q must be an int64, decimal, timestamp or date, not %s", name, f.Type)
	}
	s.Version, s.VersionIndex = name, i
	return nil
}
