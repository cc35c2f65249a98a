package forwardauth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/textproto"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"github.com/authgate/authgate/gateway/internal/authz"
	"github.com/authgate/authgate/gateway/internal/httperr"
)

// GRPC is Envoy's envoy.service.auth.v3.Authorization service on the current Handler:
// current returns the Handler of the runtime in force, so a reload reaches it too.
type GRPC struct {
	authv3.UnimplementedAuthorizationServer
	current func() *Handler
}

// NewGRPC returns the service.
func NewGRPC(current func() *Handler) *GRPC { return &GRPC{current: current} }

// Check answers one ext_authz check: OK with the identity headers to add upstream, or a
// denial Envoy sends to the client (the seed's 401/403 JSON, or 302 to the sign-in page
// for a browser that must sign in). A caller that is not a trusted proxy, or a check
// without an HTTP request, is denied 401 (SECURITY.md H5). It never returns a gRPC error
// for a decision, so Envoy's failure_mode_allow cannot turn a refusal into a pass.
func (g *GRPC) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	h := g.current()
	r, o, err := h.grpcOriginal(ctx, req)
	if err != nil {
		return h.deny(r, outcome{err: err}), nil
	}
	out := h.decide(ctx, r, o)
	if out.err != nil {
		return h.deny(r, out), nil
	}
	hdr := http.Header{}
	if out.dec.Authenticated {
		h.d.Headers.Set(hdr, out.dec.Identity)
	}
	// Envoy sets the answer's headers, then removes HeadersToRemove: every identity
	// header not set here, so that no client copy reaches the upstream.
	ok := &authv3.OkHttpResponse{Headers: headerOptions(hdr, true), HeadersToRemove: h.unset(hdr)}
	if out.dec.Authenticated && out.dec.ByRefresh {
		if grant, err := h.d.Tokens.IssueAccess(out.dec.Identity); err == nil {
			w := &headerWriter{h: http.Header{}}
			h.d.Jar.SetGrant(w, r, grant)
			ok.ResponseHeadersToAdd = headerOptions(w.h, false)
		}
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}, nil
}

// grpcOriginal reads the original request out of a check, and makes the *http.Request
// (the client's headers, the proxy's address) the shared decision reads credentials from.
func (h *Handler) grpcOriginal(ctx context.Context, req *authv3.CheckRequest) (*http.Request, original, error) {
	r := &http.Request{Header: http.Header{}, Method: http.MethodGet}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.RemoteAddr = p.Addr.String()
		if _, _, err := net.SplitHostPort(r.RemoteAddr); err != nil {
			r.RemoteAddr = ""
		}
	}
	hr := req.GetAttributes().GetRequest().GetHttp()
	if hr == nil {
		return r, original{}, httperr.ErrForwardedRequest
	}
	for k, v := range hr.GetHeaders() {
		if !strings.HasPrefix(k, ":") {
			r.Header.Add(textproto.CanonicalMIMEHeaderKey(k), v)
		}
	}
	for _, kv := range hr.GetHeaderMap().GetHeaders() {
		if k := kv.GetKey(); !strings.HasPrefix(k, ":") {
			v := kv.GetValue()
			if raw := kv.GetRawValue(); len(raw) > 0 {
				v = string(raw)
			}
			r.Header.Add(textproto.CanonicalMIMEHeaderKey(k), v)
		}
	}
	if err := h.fromTrusted(r); err != nil {
		return r, original{}, err
	}
	o := original{header: r.Header}
	var err error
	if o.method, err = parseMethod(hr.GetMethod()); err != nil {
		return r, original{}, err
	}
	scheme := hr.GetScheme()
	if scheme == "" {
		scheme = "http"
	}
	if o.scheme, err = parseScheme(scheme); err != nil {
		return r, original{}, err
	}
	if o.host, err = parseHost(hr.GetHost()); err != nil {
		return r, original{}, err
	}
	r.Host = o.host
	o.path, o.escapedPath, o.rawQuery, err = parseTarget(hr.GetPath())
	return r, o, err
}

// deny is the denial for out: its status, message and code from the error table.
func (h *Handler) deny(r *http.Request, out outcome) *authv3.CheckResponse {
	f := h.d.Errors.Lookup(out.err, r)
	hdr := http.Header{"Content-Type": {"application/json; charset=UTF-8"}, "Cache-Control": {"no-store"}, httperr.HeaderError: {f.Code}}
	status, body := f.Status, ""
	if out.browser && authz.SignInNeeded(out.err) {
		status = http.StatusFound
		hdr.Set("Location", h.signIn(out.o))
	} else {
		b, _ := json.Marshal(map[string]string{"status": envelope(f.Status), "message": f.Message})
		body = string(b)
	}
	code := codes.PermissionDenied
	if status == http.StatusUnauthorized || status == http.StatusFound {
		code = codes.Unauthenticated
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(code)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
			Headers: headerOptions(hdr, true),
			Body:    body,
		}},
	}
}

func envelope(status int) string {
	if status >= 500 {
		return "error"
	}
	return "fail"
}

// headerOptions converts h to Envoy header options; overwrite replaces a header the
// request already has (identity headers: a client's copy never survives).
func headerOptions(h http.Header, overwrite bool) []*corev3.HeaderValueOption {
	action := corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	if overwrite {
		action = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	}
	var out []*corev3.HeaderValueOption
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, &corev3.HeaderValueOption{
				Header: &corev3.HeaderValue{Key: strings.ToLower(k), Value: v}, AppendAction: action,
			})
		}
	}
	return out
}

// headerWriter collects the headers a cookie jar sets.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}

var _ authv3.AuthorizationServer = (*GRPC)(nil)
