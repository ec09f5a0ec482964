package audit

import (
	"fmt"
	"html/template"
	"io"
	"math"
)

// chartBar is one position of the entropy chart, in SVG coordinates.
type chartBar struct {
	X, Y, W, H float64
	UniformY   float64
	Tick       bool // draw the uniform-source tick (varying positions only)
	Title      string
}

type chart struct {
	Width, Height float64
	Bars          []chartBar
	TopLabel      string
	Stats         *TokenStats
	Threshold     int
}

// entropyChart lays out the per-position min-entropy as bars, with the
// figure a uniform source would show as a tick on each bar.
func entropyChart(st *TokenStats) *chart {
	if st == nil || len(st.Positions) == 0 {
		return nil
	}
	const plotW, plotH, left, top = 640.0, 120.0, 30.0, 10.0
	top2 := 1.0
	for _, p := range st.Positions {
		top2 = math.Max(top2, math.Max(p.MinEntropy, p.Uniform))
	}
	top2 = math.Ceil(top2)
	bw := plotW / float64(len(st.Positions))
	c := &chart{Width: plotW + left + 10, Height: plotH + top + 20, TopLabel: fmt.Sprintf("%.0f bits", top2), Stats: st, Threshold: MinEntropyBits}
	for i, p := range st.Positions {
		h := p.MinEntropy / top2 * plotH
		c.Bars = append(c.Bars, chartBar{
			X: left + float64(i)*bw, W: math.Max(bw-1, 0.5), H: h, Y: top + plotH - h,
			UniformY: top + plotH - p.Uniform/top2*plotH, Tick: p.Uniform > 0,
			Title: fmt.Sprintf("position %d: %.2f bits (%d symbols, most common seen %d times)", i, p.MinEntropy, p.Symbols, p.MaxCount),
		})
	}
	return c
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"f1": func(v float64) string { return fmt.Sprintf("%.1f", v) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Tool}}: {{.R.Target}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2230;background:#fafbfc}
h1{font-size:1.4rem;margin:0 0 .2rem}
.sub{color:#5a6275;margin-bottom:1.5rem}
.summary{display:flex;gap:1.5rem;align-items:center;margin-bottom:1.5rem}
.grade{font-size:3rem;font-weight:700;width:5rem;height:5rem;border-radius:1rem;display:flex;align-items:center;justify-content:center;color:#fff}
.gA{background:#1f8f4e}.gB{background:#7a9a1e}.gC{background:#d08a00}.gD{background:#d2561b}.gF{background:#c0262d}
.counts span{display:inline-block;margin-right:1rem;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px rgba(0,0,0,.08)}
th,td{text-align:left;vertical-align:top;padding:.55rem .7rem;border-bottom:1px solid #e6e8ee}
th{background:#f0f2f6;font-size:.85rem;text-transform:uppercase;letter-spacing:.03em;color:#5a6275}
td.st{font-weight:700;text-transform:uppercase;font-size:.8rem;white-space:nowrap}
tr.pass td.st{color:#1f8f4e}tr.fail td.st{color:#c0262d}tr.warn td.st{color:#b27500}tr.skip td.st{color:#8a90a0}
tr.fail{background:#fdf0f0}tr.warn{background:#fff9ea}
code{font-size:.85rem}
.ev{font-size:.88rem;color:#33394a;word-break:break-word}
.rec{font-size:.88rem;color:#1d4f91}
.sev{font-size:.8rem;color:#5a6275}
section{margin-top:2rem}
svg text{font:10px system-ui,sans-serif;fill:#5a6275}
</style>
</head>
<body>
<h1>{{.Tool}}</h1>
<div class="sub">{{.R.Target}}{{if not .R.Started.IsZero}} · {{.R.Started.UTC.Format "2006-01-02 15:04 UTC"}}{{end}}</div>
{{if .R.Incomplete}}<p class="incomplete" style="background:#fff3cd;border:1px solid #d08a00;padding:.6rem .8rem"><strong>Incomplete:</strong> the {{.Verb}} {{.R.Incomplete}}; checks that had not finished are skipped.</p>
{{end}}<div class="summary">
<div class="grade g{{.Grade}}" title="summary grade">{{.Grade}}</div>
<div class="counts"><span style="color:#c0262d">{{.Fail}} fail</span><span style="color:#b27500">{{.Warn}} warn</span><span style="color:#1f8f4e">{{.Pass}} pass</span><span style="color:#8a90a0">{{.Skip}} skip</span></div>
</div>
<table>
<thead><tr><th>Status</th><th>Check</th><th>Evidence</th><th>Recommendation</th></tr></thead>
<tbody>
{{range .R.Checks}}<tr class="{{.Status}}" id="{{.ID}}"><td class="st">{{.Status}}</td><td><strong>{{.Title}}</strong><br><code>{{.ID}}</code> <span class="sev">{{.Severity}}</span></td><td class="ev">{{.Evidence}}{{range .Locations}}<br><code class="loc">{{.}}</code>{{end}}</td><td class="rec">{{if or (eq .Status "fail") (eq .Status "warn")}}{{.Recommendation}}{{end}}</td></tr>
{{end}}</tbody>
</table>
<section id="summary">
<h2>Summary</h2>
{{range .Parts}}<h3>{{.Name}} ({{len .Checks}})</h3>
{{if .Checks}}<ul>
{{range .Checks}}<li><code>{{.ID}}</code> {{.Title}} <span class="sev">{{.Severity}}</span></li>
{{end}}</ul>{{else}}<p>None.</p>{{end}}
{{end}}</section>
<section id="actions">
<h2>Actions</h2>
{{range .Summary.Actions.Groups}}<h3>{{.Name}}</h3>
{{if .Actions}}<ul>
{{range .Actions}}<li><code>{{.ID}}</code> <strong>{{.Title}}</strong> <span class="sev">{{.Severity}}</span>: <span class="rec">{{.Action}}</span></li>
{{end}}</ul>{{else}}<p>None.</p>{{end}}
{{end}}</section>
{{with .Chart}}<section id="entropy">
<h2>Token randomness</h2>
<p>{{.Stats.Samples}} tokens, {{.Stats.Alphabet}} alphabet, length {{.Stats.MinLen}}–{{.Stats.MaxLen}}: estimated min-entropy <strong>{{f1 .Stats.Estimate}} bits</strong> (needs {{.Threshold}}), capacity {{f1 .Stats.Capacity}} bits, a uniform source would show {{f1 .Stats.UniformEstimate}} bits at this sample size.{{if .Stats.FIPS}} FIPS 140-2: {{if .Stats.FIPS.Passed}}all four tests pass{{else}}failed{{end}}.{{end}}</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="min-entropy per token position">
<line x1="30" y1="130" x2="{{.Width}}" y2="130" stroke="#aab"/>
<text x="0" y="14">{{.TopLabel}}</text><text x="0" y="130">0</text>
{{range .Bars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" fill="#4a78c2"><title>{{.Title}}</title></rect>{{if .Tick}}<rect x="{{.X}}" y="{{.UniformY}}" width="{{.W}}" height="1.5" fill="#d2561b"/>{{end}}
{{end}}<text x="30" y="146">position →   bars: per-position min-entropy · orange ticks: uniform source at this sample size</text>
</svg>
</section>{{end}}
<footer class="sub" style="margin-top:2rem">Generated by {{.Tool}}. Tokens, keys and passwords are never shown.</footer>
</body>
</html>
`))

// WriteHTML writes a self-contained HTML report: a summary grade, one row
// per check coloured by status, and the entropy figures as an inline SVG.
// The report's text goes through Plain, then html/template escapes it for
// where it stands, so the target adds no markup and reorders no text.
func WriteHTML(w io.Writer, r *Report) error {
	v := r.escaped(Plain)
	sum := r.Summary().escaped(Plain)
	data := struct {
		R                      *Report
		Tool, Verb             string
		Grade                  string
		Fail, Warn, Pass, Skip int
		Chart                  *chart
		Summary                Summary
		Parts                  []summaryPart
	}{v, r.tool(), r.verb(), r.Grade(), r.Count(Fail), r.Count(Warn), r.Count(Pass), r.Count(Skip), entropyChart(r.Entropy), sum, sum.parts()}
	if err := htmlTmpl.Execute(w, data); err != nil {
		return fmt.Errorf("audit: write html: %w", err)
	}
	return nil
}
