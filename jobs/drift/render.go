package drift

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
)

// Output formats of a report.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	FormatHTML     = "html"
)

// Formats lists the output formats.
var Formats = []string{FormatText, FormatJSON, FormatMarkdown, FormatHTML}

// Write renders r to w in format (one of Formats).
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case FormatJSON:
		b, err := r.MarshalIndentJSON()
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case FormatText:
		return writeText(w, r)
	case FormatMarkdown:
		return writeMarkdown(w, r)
	case FormatHTML:
		return writeHTML(w, r)
	}
	return fmt.Errorf("unknown report format %q: want %s", format, strings.Join(Formats, ", "))
}

// Human formatting shared by the text, markdown and HTML reports.

func fmtFloat(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmtNum(*p)
}

func fmtNum(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v != 0 && (v < 1e-3 && v > -1e-3 || v >= 1e7 || v <= -1e7):
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)[:min(len(strconv.FormatFloat(v, 'f', -1, 64)), sigLen(v))]
}

// sigLen is the length of v's 'f' formatting that keeps about 4 significant
// digits.
func sigLen(v float64) int {
	s := strconv.FormatFloat(v, 'f', 4, 64)
	intPart, _, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	n := len(s)
	if intPart != "0" {
		n = len(s) - 4 + max(0, 4-len(intPart))
		if max(0, 4-len(intPart)) == 0 {
			n-- // drop the point too
		}
	}
	return n
}

func fmtPct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

func fmtThreshold(c Column) string {
	if c.Method.UsesPValue() {
		return "p < " + fmtNum(c.Threshold)
	}
	return "≥ " + fmtNum(c.Threshold)
}

func fmtP(c Column) string {
	if c.AdjustedPValue != nil {
		return fmtFloat(c.AdjustedPValue) + " (adj.)"
	}
	if !c.Method.UsesPValue() {
		return "-"
	}
	return fmtFloat(c.PValue)
}

func yesNo(b bool) string {
	if b {
		return "DRIFT"
	}
	return "ok"
}

func fmtDays(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

func verdictLine(r *Report) string {
	head := "no drift"
	if r.DriftDetected {
		head = "DRIFT DETECTED (" + strings.Join(r.Reasons, ", ") + ")"
	}
	return fmt.Sprintf("%s: %d of %d columns drifted (%s; the dataset drifts at %s)",
		head, r.DriftedColumns, r.ComparedColumns, fmtPct(r.DriftedShare), fmtPct(r.DriftShare))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func windowLine(name string, w Window) string {
	s := fmt.Sprintf("%-9s  %-22s  %s, %s, %s, %s rows", name, Range{w.From, w.To}, fmtDays(w.Days),
		plural(w.Partitions, "partition", "partitions"), plural(w.Files, "file", "files"), humanize.Comma(w.Rows))
	if len(w.MissingDays) > 0 {
		s += "; no partition on " + strings.Join(w.MissingDays, ", ")
	}
	return s
}

func nullsCell(c Column) string {
	s := fmtPct(c.Reference.NullRate) + " → " + fmtPct(c.Current.NullRate)
	if c.NullRate.Drifted {
		s += " DRIFT"
	}
	return s
}

// shownCategories is how many new or vanished categories the human formats
// list per column; the JSON lists up to max_categories.
const shownCategories = 5

func categoriesCell(cs []Category, current bool) string {
	var parts []string
	for i, c := range cs {
		if i == shownCategories {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-i))
			break
		}
		share := c.RefShare
		if current {
			share = c.CurShare
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", c.Value, fmtPct(share)))
	}
	return strings.Join(parts, ", ")
}

func volumeBand(v Volume) string {
	if !v.Checked {
		return "not checked: the reference needs at least three days with a partition"
	}
	return fmt.Sprintf("reference daily mean %s ± max(%g×%s sample std, %s) = [%s, %s] rows",
		humanize.Commaf(round1(v.ReferenceMean)), v.Sigmas, humanize.Commaf(round1(v.ReferenceStd)), fmtPct(v.MinTolerance),
		humanize.Commaf(round1(v.Lower)), humanize.Commaf(round1(v.Upper)))
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

func writeText(w io.Writer, r *Report) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "Drift report for table %s in %s (as of %s)\n", r.Table, r.Lake, r.AsOf)
	fmt.Fprintln(b, windowLine("reference", r.Reference))
	fmt.Fprintln(b, windowLine("current", r.Current))
	fmt.Fprintln(b, verdictLine(r))
	if r.FDR != nil {
		fmt.Fprintf(b, "p-values adjusted by Benjamini–Hochberg at FDR %s\n", fmtNum(*r.FDR))
	}
	fmt.Fprintln(b)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COLUMN\tKIND\tMETHOD\tSTATISTIC\tP-VALUE\tTHRESHOLD\tVERDICT\tNULLS REF → CUR")
	for _, c := range r.Columns {
		name := c.Name
		if c.PII {
			name += " (pii)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, c.Kind, c.Method, fmtFloat(c.Statistic), fmtP(c), fmtThreshold(c), yesNo(c.Drifted), nullsCell(c))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, c := range r.Columns {
		if c.Note != "" {
			notes = append(notes, fmt.Sprintf("  %s: %s", c.Name, c.Note))
		}
		if c.NewCategoryCount > 0 {
			notes = append(notes, fmt.Sprintf("  %s: %s (%s of current rows): %s", c.Name,
				plural(c.NewCategoryCount, "new category", "new categories"), fmtPct(c.NewShare), categoriesCell(c.NewCategories, true)))
		}
		if c.VanishedCategoryCount > 0 {
			notes = append(notes, fmt.Sprintf("  %s: %s (%s of reference rows): %s", c.Name,
				plural(c.VanishedCategoryCount, "vanished category", "vanished categories"), fmtPct(c.VanishedShare), categoriesCell(c.VanishedCategories, false)))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(b, "\nCategories and notes:\n%s\n", strings.Join(notes, "\n"))
	}
	fmt.Fprintln(b, "\nNumeric summaries (reference → current):")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  COLUMN\tMIN\tP1\tP50\tP99\tMAX")
	any := false
	for _, c := range r.Columns {
		if c.Kind != kindNumeric || c.PII {
			continue
		}
		any = true
		pair := func(a, b *float64) string { return fmtFloat(a) + " → " + fmtFloat(b) }
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Name, pair(c.Reference.Min, c.Current.Min), pair(c.Reference.P1, c.Current.P1),
			pair(c.Reference.P50, c.Current.P50), pair(c.Reference.P99, c.Current.P99), pair(c.Reference.Max, c.Current.Max))
	}
	if !any {
		fmt.Fprintln(tw, "  (none)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(b, "\nSchema changes:")
	if len(r.SchemaChanges) == 0 {
		fmt.Fprintln(b, "  none")
	}
	for _, s := range r.SchemaChanges {
		fmt.Fprintf(b, "  %s %s %s\n", s.Column, s.Change, schemaTypes(s))
	}
	fmt.Fprintf(b, "\nVolume: %s\n", volumeBand(r.Volume))
	for _, d := range r.Volume.Days {
		mark := "ok"
		if d.Outside {
			mark = "OUTSIDE"
		}
		fmt.Fprintf(b, "  %s  %10s  %s\n", d.Date, humanize.Comma(d.Rows), mark)
	}
	writeTrendText(b, r.Trend)
	writeSegmentsText(b, r)
	if len(r.SkippedColumns) > 0 {
		fmt.Fprintln(b, "\nNot compared:")
		for _, s := range r.SkippedColumns {
			fmt.Fprintf(b, "  %s: %s\n", s.Name, s.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func schemaTypes(s SchemaChange) string {
	switch s.Change {
	case "added":
		return s.CurrentType
	case "removed":
		return s.ReferenceType
	}
	return s.ReferenceType + " → " + s.CurrentType
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func writeMarkdown(w io.Writer, r *Report) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# Drift report: %s\n\n", mdCell(r.Table))
	fmt.Fprintf(b, "**%s**\n\n", mdCell(verdictLine(r)))
	fmt.Fprintln(b, "| | range | days | partitions | rows |")
	fmt.Fprintln(b, "|---|---|--:|--:|--:|")
	for _, x := range []struct {
		n string
		w Window
	}{{"reference", r.Reference}, {"current", r.Current}} {
		fmt.Fprintf(b, "| %s | %s | %d | %d | %s |\n", x.n, Range{x.w.From, x.w.To}, x.w.Days, x.w.Partitions, humanize.Comma(x.w.Rows))
	}
	if r.FDR != nil {
		fmt.Fprintf(b, "\np-values adjusted by Benjamini–Hochberg at FDR %s.\n", fmtNum(*r.FDR))
	}
	fmt.Fprintln(b, "\n## Columns\n\n| column | kind | method | statistic | p-value | threshold | verdict | nulls ref → cur | new categories | vanished categories |")
	fmt.Fprintln(b, "|---|---|---|--:|--:|---|---|---|---|---|")
	for _, c := range r.Columns {
		name := mdCell(c.Name)
		if c.PII {
			name += " (pii)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, c.Kind, c.Method, fmtFloat(c.Statistic), fmtP(c),
			fmtThreshold(c), yesNo(c.Drifted), nullsCell(c), mdCell(categoriesCell(c.NewCategories, true)), mdCell(categoriesCell(c.VanishedCategories, false)))
	}
	fmt.Fprintln(b, "\n## Schema changes")
	if len(r.SchemaChanges) == 0 {
		fmt.Fprintln(b, "\nNone.")
	} else {
		fmt.Fprintln(b, "\n| column | change | types |\n|---|---|---|")
		for _, s := range r.SchemaChanges {
			fmt.Fprintf(b, "| %s | %s | %s |\n", mdCell(s.Column), s.Change, mdCell(schemaTypes(s)))
		}
	}
	fmt.Fprintf(b, "\n## Volume\n\n%s\n\n| date | rows | verdict |\n|---|--:|---|\n", volumeBand(r.Volume))
	for _, d := range r.Volume.Days {
		fmt.Fprintf(b, "| %s | %s | %s |\n", d.Date, humanize.Comma(d.Rows), map[bool]string{true: "outside", false: "ok"}[d.Outside])
	}
	writeTrendMarkdown(b, r.Trend)
	writeSegmentsMarkdown(b, r)
	if len(r.SkippedColumns) > 0 {
		fmt.Fprintln(b, "\n## Not compared\n\n| column | reason |\n|---|---|")
		for _, s := range r.SkippedColumns {
			fmt.Fprintf(b, "| %s | %s |\n", mdCell(s.Name), mdCell(s.Reason))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// histogramSVG draws the reference and current shares of c's bins as
// overlaid bars, as inline SVG with no external references.
func histogramSVG(c Column) template.HTML {
	const W, H, pad, axis = 560.0, 180.0, 8.0, 36.0
	bins := c.Histogram
	if len(bins) == 0 {
		return template.HTML(`<svg class="hist" width="560" height="40" role="img" aria-label="no histogram"><text x="8" y="24">no values to chart</text></svg>`)
	}
	maxShare := 0.0
	for _, b := range bins {
		maxShare = max(maxShare, b.RefShare, b.CurShare)
	}
	if maxShare == 0 {
		maxShare = 1
	}
	plotH := H - axis - pad
	bw := (W - 2*pad) / float64(len(bins))
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="hist" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%s: reference and current histograms">`,
		W, H, W, H, html.EscapeString(c.Name))
	fmt.Fprintf(&s, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#888"/>`, pad, pad+plotH, W-pad, pad+plotH)
	for i, b := range bins {
		x := pad + float64(i)*bw
		label := b.Label
		if label == "" && b.Lo != nil && b.Hi != nil {
			label = fmtNum(*b.Lo) + "–" + fmtNum(*b.Hi)
		}
		for _, side := range []struct {
			share float64
			class string
		}{{b.RefShare, "ref"}, {b.CurShare, "cur"}} {
			h := plotH * side.share / maxShare
			fmt.Fprintf(&s, `<rect class="%s" x="%.2f" y="%.2f" width="%.2f" height="%.2f"><title>%s %s: %s</title></rect>`,
				side.class, x+1, pad+plotH-h, max(bw-2, 1), h, html.EscapeString(label), map[string]string{"ref": "reference", "cur": "current"}[side.class], fmtPct(side.share))
		}
		if len(bins) <= 12 || i == 0 || i == len(bins)-1 {
			short := label
			if r := []rune(short); len(r) > 12 {
				short = string(r[:11]) + "…"
			}
			fmt.Fprintf(&s, `<text x="%.2f" y="%g" font-size="10" text-anchor="middle">%s</text>`, x+bw/2, pad+plotH+14, html.EscapeString(short))
		}
	}
	fmt.Fprintf(&s, `<text x="%g" y="%g" font-size="10">max share %s</text>`, pad, H-4, fmtPct(maxShare))
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"float": fmtFloat, "pct": fmtPct, "threshold": fmtThreshold, "p": fmtP, "verdict": yesNo,
	"svg": histogramSVG, "verdictLine": verdictLine, "band": volumeBand, "comma": humanize.Comma,
	"cats": categoriesCell, "types": schemaTypes, "days": fmtDays,
	"rng": func(w Window) string { return Range{w.From, w.To}.String() },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drift report: {{.Table}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#222;max-width:70em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.drift{color:#b00020;font-weight:bold}.ok{color:#1b5e20}
section.col{border-top:1px solid #ddd;margin-top:1.5em;padding-top:.5em}
svg.hist rect.ref{fill:#1f77b4;fill-opacity:.5}svg.hist rect.cur{fill:#ff7f0e;fill-opacity:.5}
.legend span{display:inline-block;width:1em;height:1em;vertical-align:middle;margin:0 .3em 0 1em}
</style></head><body>
<h1>Drift report: {{.Table}}</h1>
<p class="{{if .DriftDetected}}drift{{else}}ok{{end}}">{{verdictLine .}}</p>
<table><tr><th></th><th>range</th><th>days</th><th>partitions</th><th>rows</th><th>missing days</th></tr>
<tr><td>reference</td><td>{{rng .Reference}}</td><td class="n">{{.Reference.Days}}</td><td class="n">{{.Reference.Partitions}}</td><td class="n">{{comma .Reference.Rows}}</td><td>{{range .Reference.MissingDays}}{{.}} {{end}}</td></tr>
<tr><td>current</td><td>{{rng .Current}}</td><td class="n">{{.Current.Days}}</td><td class="n">{{.Current.Partitions}}</td><td class="n">{{comma .Current.Rows}}</td><td>{{range .Current.MissingDays}}{{.}} {{end}}</td></tr>
</table>
<p>Lake {{.Lake}}, as of {{.AsOf}}, generated {{.GeneratedAt.Format "2006-01-02 15:04:05Z07:00"}}.{{if .FDR}} p-values adjusted by Benjamini–Hochberg at FDR {{float .FDR}}.{{end}}</p>
<h2>Columns</h2>
<table><tr><th>column</th><th>kind</th><th>method</th><th>statistic</th><th>p-value</th><th>threshold</th><th>verdict</th></tr>
{{range .Columns}}<tr><td><a href="#col-{{.Name}}">{{.Name}}</a>{{if .PII}} (pii){{end}}</td><td>{{.Kind}}</td><td>{{.Method}}</td><td class="n">{{float .Statistic}}</td><td class="n">{{p .}}</td><td>{{threshold .}}</td><td class="{{if .Drifted}}drift{{else}}ok{{end}}">{{verdict .Drifted}}</td></tr>
{{end}}</table>
<h2>Schema changes</h2>
{{if .SchemaChanges}}<table><tr><th>column</th><th>change</th><th>types</th></tr>{{range .SchemaChanges}}<tr><td>{{.Column}}</td><td>{{.Change}}</td><td>{{types .}}</td></tr>{{end}}</table>{{else}}<p>None.</p>{{end}}
<h2>Volume</h2>
<p{{if .Volume.Drifted}} class="drift"{{end}}>{{band .Volume}}</p>
<table><tr><th>date</th><th>rows</th><th>verdict</th></tr>{{range .Volume.Days}}<tr><td>{{.Date}}</td><td class="n">{{comma .Rows}}</td><td class="{{if .Outside}}drift">outside{{else}}ok">ok{{end}}</td></tr>{{end}}</table>
{{if .SkippedColumns}}<h2>Not compared</h2><table><tr><th>column</th><th>reason</th></tr>{{range .SkippedColumns}}<tr><td>{{.Name}}</td><td>{{.Reason}}</td></tr>{{end}}</table>{{end}}
<p class="legend"><span style="background:#1f77b4;opacity:.5"></span>reference<span style="background:#ff7f0e;opacity:.5"></span>current</p>
{{range .Columns}}<section class="col" id="col-{{.Name}}">
<h3>{{.Name}} <small>{{.Type}}, {{.Kind}}{{if .PII}}, PII: statistics only{{end}}</small></h3>
<p>{{.Method}} ({{.MethodSource}}): statistic {{float .Statistic}}{{if .PValue}}, p-value {{float .PValue}}{{end}}{{if .AdjustedPValue}}, adjusted p-value {{float .AdjustedPValue}}{{end}}, threshold {{threshold .}} → <span class="{{if .Drifted}}drift{{else}}ok{{end}}">{{verdict .Drifted}}</span>{{if .Note}} ({{.Note}}){{end}}</p>
{{svg .}}
<table><tr><th></th><th>rows</th><th>null rate</th>{{if and (eq .Kind "numeric") (not .PII)}}<th>min</th><th>p1</th><th>p50</th><th>p99</th><th>max</th>{{end}}</tr>
<tr><td>reference</td><td class="n">{{comma .Reference.Rows}}</td><td class="n">{{pct .Reference.NullRate}}</td>{{if and (eq .Kind "numeric") (not .PII)}}<td class="n">{{float .Reference.Min}}</td><td class="n">{{float .Reference.P1}}</td><td class="n">{{float .Reference.P50}}</td><td class="n">{{float .Reference.P99}}</td><td class="n">{{float .Reference.Max}}</td>{{end}}</tr>
<tr><td>current</td><td class="n">{{comma .Current.Rows}}</td><td class="n">{{pct .Current.NullRate}}</td>{{if and (eq .Kind "numeric") (not .PII)}}<td class="n">{{float .Current.Min}}</td><td class="n">{{float .Current.P1}}</td><td class="n">{{float .Current.P50}}</td><td class="n">{{float .Current.P99}}</td><td class="n">{{float .Current.Max}}</td>{{end}}</tr>
</table>
{{if .NewCategories}}<p>New categories: {{cats .NewCategories true}}</p>{{end}}
{{if .VanishedCategories}}<p>Vanished categories: {{cats .VanishedCategories false}}</p>{{end}}
</section>
{{end}}</body></html>
`))

func writeHTML(w io.Writer, r *Report) error {
	return htmlTemplate.Execute(w, r)
}
