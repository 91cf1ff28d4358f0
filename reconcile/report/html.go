package report

import (
	"bufio"
	"html/template"
	"io"

	"github.com/ddbsync/ddbsync/reconcile/diff"
)

// HTML returns a [diff.Report] writing one self-contained HTML page
// (no scripts, no external files): the summary, then a table of findings in
// which each differing attribute path is highlighted with its source and
// copy values side by side. Findings are written as they come, so the page
// can be large; cap it with [diff.Config.Limit].
func HTML(w io.Writer) diff.Report { return &htmlReport{w: bufio.NewWriter(w)} }

type htmlReport struct {
	w     *bufio.Writer
	shown int64
}

var htmlTemplates = template.Must(template.New("head").Funcs(template.FuncMap{
	"time":  fmtTime,
	"ptime": shortTime,
	"prov":  provenanceText,
	"str":   func(b []byte) string { return string(b) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ddbsync diff {{.DiffID}}: {{.Table}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; }
code { font-family: ui-monospace, monospace; font-size: 0.9em; word-break: break-all; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
#summary th { background: #f4f4f4; }
.verdict { font-size: 1.2em; font-weight: bold; padding: 0.4em 0.8em; display: inline-block; }
.consistent .verdict { background: #dff5df; color: #1a5e1a; }
.inconsistent .verdict { background: #fde2e2; color: #8a1414; }
#findings { width: 100%; margin-top: 1em; }
#findings > thead th { background: #333; color: #fff; }
tr.in-flight { color: #777; }
.kind { font-weight: bold; white-space: nowrap; }
.kind-missing .kind { color: #8a1414; }
.kind-extra .kind { color: #8a5a00; }
.kind-different .kind { color: #1f3f8a; }
table.attrs { width: 100%; }
table.attrs th { background: #f4f4f4; font-weight: normal; }
mark.attr-path { background: #ffe066; font-weight: bold; padding: 0 0.2em; }
td.source-value { background: #e6f4ea; }
td.copy-value { background: #fce8e6; }
details summary { cursor: pointer; }
</style>
</head>
<body>
<h1>ddbsync diff {{.DiffID}}: DynamoDB table <code>{{.Table}}</code> vs PostgreSQL <code>{{.PGTable}}</code></h1>
<section id="summary" class="{{if eq .Inconsistencies 0}}consistent{{else}}inconsistent{{end}}">
<p class="verdict">{{if eq .Inconsistencies 0}}Consistent{{else}}Inconsistent: {{.Inconsistencies}} keys differ{{end}}</p>
<table>
<tr><th>Source</th><td>{{.Source}}</td></tr>
<tr><th>Compared at (I)</th><td>{{time .Instant}}{{if .ScanEnd}} (scan start; the scan ended {{ptime .ScanEnd}}){{else}} (export time){{end}}</td></tr>
<tr><th>Copy watermark (W)</th><td>{{if .Watermark}}{{ptime .Watermark}}{{else}}the copy was loaded from this export{{end}}</td></tr>
<tr><th>Items in the source</th><td>{{.SourceItems}}</td></tr>
<tr><th>Rows in the copy</th><td>{{.CopyRows}}</td></tr>
<tr><th>Missing in PostgreSQL</th><td id="count-missing">{{.Missing}}</td></tr>
<tr><th>Extra in PostgreSQL</th><td id="count-extra">{{.Extra}}</td></tr>
<tr><th>Different</th><td id="count-different">{{.Different}}</td></tr>
<tr><th>In flight (changed at or after I − {{.Skew}})</th><td id="count-in-flight">{{.InFlight}}</td></tr>
{{with .Repair}}<tr><th>Repaired</th><td id="repaired">{{.Inserted}} inserted, {{.Updated}} updated, {{.Deleted}} deleted{{if .Skipped}}; {{.Skipped}} not repaired (changed by the stream since the compare){{end}}</td></tr>{{end}}
<tr><th>Duration</th><td>{{.Duration}}</td></tr>
</table>
</section>
<h2>Findings</h2>
<table id="findings">
<thead><tr><th>Kind</th><th>Key</th><th>Differences (source = DynamoDB, copy = PostgreSQL)</th><th>Copy row provenance</th></tr></thead>
<tbody>
`))

func init() {
	template.Must(htmlTemplates.New("finding").Parse(`<tr class="finding kind-{{.Kind}}{{if .InFlight}} in-flight{{end}}" data-kind="{{.Kind}}">
<td class="kind">{{if eq .Kind "missing"}}missing in PostgreSQL{{else if eq .Kind "extra"}}extra in PostgreSQL{{else}}different{{end}}{{if .InFlight}} (in flight){{end}}{{if .Repaired}} — repaired{{end}}{{if .RepairSkipped}} — not repaired: {{.RepairSkipped}}{{end}}</td>
<td class="key"><code>{{str .Key}}</code></td>
<td>{{if .Differences}}<table class="attrs"><tr><th>attribute</th><th>source</th><th>copy</th></tr>
{{range .Differences}}<tr class="attr-diff"><td><mark class="attr-path">{{.Path}}</mark></td><td class="source-value"><code>{{str .Source}}</code></td><td class="copy-value"><code>{{str .Copy}}</code></td></tr>
{{end}}</table>{{else if .Source}}<details><summary>source item</summary><code>{{str .Source}}</code></details>{{else if .Copy}}<details><summary>copy item</summary><code>{{str .Copy}}</code></details>{{end}}</td>
<td class="provenance">{{with .Provenance}}{{prov .}}{{else}}no row{{end}}{{with .Tombstone}}; removed by the stream {{time .RemovedAt}} (shard {{.ShardID}}, seq {{.Sequence}}){{end}}</td>
</tr>
`))
	template.Must(htmlTemplates.New("end").Parse(`</tbody>
</table>
<p id="shown">{{.Shown}} of {{.Total}} findings shown.</p>
</body>
</html>
`))
}

func (r *htmlReport) Begin(s diff.Summary) error {
	if err := htmlTemplates.ExecuteTemplate(r.w, "head", s); err != nil {
		return err
	}
	return r.w.Flush()
}

func (r *htmlReport) Finding(f diff.Finding) error {
	r.shown++
	return htmlTemplates.ExecuteTemplate(r.w, "finding", f)
}

func (r *htmlReport) End(s diff.Summary) error {
	if err := htmlTemplates.ExecuteTemplate(r.w, "end", struct{ Shown, Total int64 }{r.shown, s.Inconsistencies() + s.InFlight}); err != nil {
		return err
	}
	return r.w.Flush()
}
