package authz

import (
	"net/http"
	"net/textproto"

	"golang.org/x/net/http/httpguts"

	"github.com/authgate/authgate/authsvc"
)

// Header names the gateway sets upstream and in forward-auth answers.
const (
	HeaderUserID   = "X-User-Id"
	HeaderUserRole = "X-User-Role"
)

// Identity fields an alias header may carry.
const (
	FieldID    = "id"
	FieldRole  = "role"
	FieldEmail = "email"
	FieldName  = "name"
)

// Alias is one more header carrying an identity field, for apps that already read
// another gateway's names (Authelia's Remote-User, oauth2-proxy's X-Auth-Request-Email).
type Alias struct {
	Header string // header name
	Field  string // FieldID, FieldRole, FieldEmail or FieldName
}

// Headers maps an identity to the headers upstreams read. It is the one place that does
// so: the proxy and every forward-auth answer use it. The zero value sets X-User-Id and
// X-User-Role only.
type Headers struct {
	aliases []Alias // canonical header names
}

// NewHeaders returns Headers that also set aliases.
func NewHeaders(aliases []Alias) *Headers {
	h := &Headers{aliases: make([]Alias, 0, len(aliases))}
	for _, a := range aliases {
		h.aliases = append(h.aliases, Alias{Header: textproto.CanonicalMIMEHeaderKey(a.Header), Field: a.Field})
	}
	return h
}

// Set writes id's headers into dst, replacing any value already there. Empty fields,
// and values that are not valid in a header (a name with a line break), are left out
// (and any copy of theirs already in dst deleted).
func (h *Headers) Set(dst http.Header, id authsvc.Identity) {
	for _, a := range h.aliases {
		delete(dst, a.Header)
	}
	h.Each(id, func(name, value string) { dst[name] = []string{value} })
}

// Each calls set with every header Set writes for id (canonical names, in the order of
// Names), for callers that write headers somewhere other than an http.Header.
func (h *Headers) Each(id authsvc.Identity, set func(name, value string)) {
	set(HeaderUserID, id.UserID)
	if id.Role != "" {
		set(HeaderUserRole, id.Role)
	}
	for _, a := range h.aliases {
		if v := field(id, a.Field); v != "" && httpguts.ValidHeaderFieldValue(v) {
			set(a.Header, v)
		}
	}
}

// Names returns every header name Set may write (for stripping client copies).
func (h *Headers) Names() []string {
	out := []string{HeaderUserID, HeaderUserRole}
	for _, a := range h.aliases {
		out = append(out, a.Header)
	}
	return out
}

func field(id authsvc.Identity, f string) string {
	switch f {
	case FieldID:
		return id.UserID
	case FieldRole:
		return id.Role
	case FieldEmail:
		return id.Email
	case FieldName:
		return id.Name
	}
	return ""
}
