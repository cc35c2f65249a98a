package httperr

import (
	"mime"
	"net/http"
	"strings"
)

// WantsHTML reports whether r is a browser's top-level navigation, which should get a
// page rather than JSON: Sec-Fetch-Mode "navigate", or (older browsers) an Accept header
// that lists text/html before any JSON type. The seed client's fetch calls send neither.
func WantsHTML(r *http.Request) bool {
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" {
		return m == "navigate"
	}
	accept := r.Header.Get("Accept")
	if accept == "" || accept == "*/*" || !strings.Contains(accept, "html") {
		return false // the common API cases, without parsing
	}
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch {
		case mt == "text/html" || mt == "application/xhtml+xml":
			return true
		case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "*/*":
			return false
		}
	}
	return false
}

// errorPage is the HTML form of the table; it needs nothing from outside the gateway.
const errorPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Status}} · authgate</title>
<style>
body{margin:0;min-height:100vh;display:grid;place-items:center;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1f2430}
main{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.08),0 8px 24px rgba(0,0,0,.06);padding:2.5rem 3rem;max-width:28rem;text-align:center}
.code{font-size:3rem;font-weight:700;color:#4f46e5;margin:0}
p{margin:.5rem 0 1.5rem}
a{color:#4f46e5;font-weight:600;text-decoration:none}
</style></head>
<body><main><p class="code">{{.Status}}</p><p>{{.Message}}</p>{{if .SignIn}}<a href="{{.SignIn}}">Sign in</a>{{else}}<a href="/">Home</a>{{end}}</main></body></html>
`

// WriteHTML answers r with err as a small page (the same status and message as the JSON
// form), never cached, never framed.
func (t *Table) WriteHTML(w http.ResponseWriter, r *http.Request, err error) {
	f := t.Lookup(err, r)
	t.logFailure(r, f, err)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	PageHeaders(h)
	t.commonHeaders(h, f)
	w.WriteHeader(f.Status)
	if r.Method == http.MethodHead {
		return
	}
	data := struct {
		Status  int
		Message string
		SignIn  string
	}{Status: f.Status, Message: f.Message}
	if f.Status == http.StatusUnauthorized {
		data.SignIn = "/login"
	}
	_ = t.page.Execute(w, data)
}

// PageHeaders sets the hardening headers of every page the gateway renders itself:
// no framing, no sniffing, no referrer beyond the origin, no script or style from
// elsewhere (SECURITY.md C7). There is no form-action: browsers apply it to the redirect
// after a form submission, and the sign-in page's 303 must reach rd on an allowed host
// (its forms post to itself; the pages carry no script that could change that).
func PageHeaders(h http.Header) {
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}
