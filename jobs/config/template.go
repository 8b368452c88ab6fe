package config

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/txlake/txlake/jobs/drift"
	"github.com/txlake/txlake/schemas/yamlnode"
)

// Template is a string of jobs.yaml expanded per run date with Go's
// text/template. The data has one field, .Date: the run date at 00:00 UTC
// (a time.Time), e.g. {{ .Date.Format "2006/01/02" }} or
// {{ (.Date.AddDate 0 0 -1).Format "2006-01-02" }}.
type Template struct {
	Text string // as written
	Line int
	t    *template.Template
}

// TemplateData is what a template sees.
type TemplateData struct {
	Date time.Time
}

// sampleDate is the date templates are tried on when the file is parsed.
var sampleDate = time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)

// Expand renders the template for date (its UTC calendar day counts).
func (t *Template) Expand(date time.Time) (string, error) {
	y, m, d := date.UTC().Date()
	var b strings.Builder
	if err := t.t.Execute(&b, TemplateData{Date: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}); err != nil {
		return "", fmt.Errorf("line %d: template %q: %w", t.Line, t.Text, err)
	}
	return b.String(), nil
}

func (p *parser) template(e yamlnode.Entry, what string) *Template {
	s, ok := p.str(e, what)
	if !ok {
		return nil
	}
	tt, err := template.New(what).Option("missingkey=error").Parse(s)
	if err != nil {
		p.errAt(e.Value, "%s: bad template %q: %v", what, s, err)
		return nil
	}
	t := &Template{Text: s, Line: yamlnode.Line(e.Value), t: tt}
	out, err := t.Expand(sampleDate)
	if err != nil {
		p.errAt(e.Value, "%s: template %q fails on a date: %v", what, s, stripTemplateName(err))
		return nil
	}
	if strings.TrimSpace(out) == "" {
		p.errAt(e.Value, "%s: template %q expands to nothing", what, s)
		return nil
	}
	return t
}

// rangeTemplate reads a RANGE template and checks that it parses.
func (p *parser) rangeTemplate(e yamlnode.Entry, what string) *Template {
	t := p.template(e, what)
	if t == nil {
		return nil
	}
	s, _ := t.Expand(sampleDate)
	if _, err := drift.ParseRange(s, sampleDate); err != nil {
		p.errAt(e.Value, "%s: %v", what, err)
		return nil
	}
	return t
}

// ExpandRange renders a RANGE template for date and resolves it, relative
// ranges counting from date (`today` is date itself).
func ExpandRange(t *Template, date time.Time) (drift.Range, error) {
	s, err := t.Expand(date)
	if err != nil {
		return drift.Range{}, err
	}
	return drift.ParseRange(s, date)
}

func stripTemplateName(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": template: "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
