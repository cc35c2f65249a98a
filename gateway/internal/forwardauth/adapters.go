package forwardauth

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/httperr"
)

// AuthRequest handles GET /api/authz/auth-request for nginx auth_request. The original
// request is X-Original-URL (an absolute URL), or X-Original-URI with X-Forwarded-Host
// and X-Forwarded-Proto, and X-Original-Method. nginx accepts only 2xx, 401 and 403 (it
// turns anything else into a 500), so every refusal is 401 or 403; a browser's 401
// carries Location: the sign-in page with rd, for `error_page 401 =302 $auth_location`.
func (h *Handler) AuthRequest(c echo.Context) error {
	r, w := c.Request(), c.Response()
	o, err := h.nginxOriginal(r)
	if err != nil {
		h.d.Errors.WriteAs(w, r, err, http.StatusUnauthorized)
		return nil
	}
	out := h.decide(r.Context(), r, o)
	switch {
	case out.err == nil:
		h.allow(w, r, out, false)
	case authz.SignInNeeded(out.err):
		if out.browser {
			w.Header().Set("Location", h.signIn(o))
		}
		h.d.Errors.WriteAs(w, r, out.err, http.StatusUnauthorized)
	default: // forbidden, bad path, cross-site, a store that cannot answer: never a pass
		h.d.Errors.WriteAs(w, r, out.err, http.StatusForbidden)
	}
	return nil
}

func (h *Handler) nginxOriginal(r *http.Request) (original, error) {
	if err := h.fromTrusted(r); err != nil {
		return original{}, err
	}
	hdr := r.Header
	method, err := parseMethod(hdr.Get("X-Original-Method"))
	if err != nil {
		return original{}, err
	}
	o := original{method: method, header: hdr}
	if raw := hdr.Get("X-Original-URL"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" {
			return original{}, httperr.ErrForwardedRequest
		}
		if o.scheme, err = parseScheme(u.Scheme); err != nil {
			return original{}, err
		}
		if o.host, err = parseHost(u.Host); err != nil {
			return original{}, err
		}
		target := u.EscapedPath()
		if u.RawQuery != "" || u.ForceQuery {
			target += "?" + u.RawQuery
		}
		if strings.ContainsFunc(raw, isCtl) {
			return original{}, httperr.ErrForwardedRequest
		}
		o.path, o.escapedPath, o.rawQuery, err = parseTarget(target)
		return o, err
	}
	if o.scheme, err = parseScheme(hdr.Get("X-Forwarded-Proto")); err != nil {
		return original{}, err
	}
	if o.host, err = parseHost(hdr.Get("X-Forwarded-Host")); err != nil {
		return original{}, err
	}
	o.path, o.escapedPath, o.rawQuery, err = parseTarget(hdr.Get("X-Original-URI"))
	return o, err
}

// ForwardAuth handles GET /api/authz/forward-auth for Traefik forwardAuth and Caddy
// forward_auth: the original request is X-Forwarded-Method, -Proto, -Host and -Uri. The
// proxy returns any non-2xx answer to the client as it is, so a browser that must sign
// in gets 302 to the sign-in page with rd, and an API client the seed's 401/403 JSON.
func (h *Handler) ForwardAuth(c echo.Context) error {
	r, w := c.Request(), c.Response()
	o, err := h.forwardedOriginal(r)
	if err != nil {
		return err
	}
	return h.answer(w, r, h.decide(r.Context(), r, o))
}

func (h *Handler) forwardedOriginal(r *http.Request) (original, error) {
	if err := h.fromTrusted(r); err != nil {
		return original{}, err
	}
	hdr := r.Header
	var o original
	var err error
	o.header = hdr
	if o.method, err = parseMethod(hdr.Get("X-Forwarded-Method")); err != nil {
		return original{}, err
	}
	if o.scheme, err = parseScheme(hdr.Get("X-Forwarded-Proto")); err != nil {
		return original{}, err
	}
	if o.host, err = parseHost(hdr.Get("X-Forwarded-Host")); err != nil {
		return original{}, err
	}
	o.path, o.escapedPath, o.rawQuery, err = parseTarget(hdr.Get("X-Forwarded-Uri"))
	return o, err
}

// ExtAuthzPrefix is the path under which Envoy's HTTP ext_authz filter sends checks
// (its http_service.path_prefix); the rest of the path is the original one.
const ExtAuthzPrefix = "/api/authz/ext-authz"

// ExtAuthz handles Envoy's HTTP ext_authz checks: ExtAuthzPrefix + the original path and
// query, the original method and Host, the client's headers Envoy is configured to pass
// (cookie, authorization, accept, sec-fetch-*, origin, x-forwarded-proto). Envoy copies a
// denial (status, headers, body) to the client.
func (h *Handler) ExtAuthz(c echo.Context) error {
	r, w := c.Request(), c.Response()
	o, err := h.envoyOriginal(r)
	if err != nil {
		return err
	}
	out := h.decide(r.Context(), r, o)
	if out.err == nil {
		h.allow(w, r, out, true)
		return nil
	}
	return h.answer(w, r, out)
}

func (h *Handler) envoyOriginal(r *http.Request) (original, error) {
	if err := h.fromTrusted(r); err != nil {
		return original{}, err
	}
	target, ok := strings.CutPrefix(r.RequestURI, ExtAuthzPrefix)
	if !ok {
		return original{}, httperr.ErrForwardedRequest
	}
	o := original{method: r.Method, scheme: "http", header: r.Header}
	var err error
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		if o.scheme, err = parseScheme(p); err != nil {
			return original{}, err
		}
	}
	if o.host, err = parseHost(r.Host); err != nil {
		return original{}, err
	}
	o.path, o.escapedPath, o.rawQuery, err = parseTarget(target)
	return o, err
}

// answer is the Traefik, Caddy and Envoy answer: 200 with identity headers, 302 to the
// sign-in page for a browser that must sign in, else the seed's error JSON.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, out outcome) error {
	switch {
	case out.err == nil:
		h.allow(w, r, out, false)
		return nil
	case out.browser && authz.SignInNeeded(out.err):
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, h.signIn(out.o), http.StatusFound)
		return nil
	}
	return out.err
}
