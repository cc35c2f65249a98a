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
// and values that are not valid in a header (a name with a line break), are left out.
func (h *Headers) Set(dst http.Header, id authsvc.Identity) {
	dst[HeaderUserID] = []string{id.UserID}
	if id.Role != "" {
		dst[HeaderUserRole] = []string{id.Role}
	}
	for _, a := range h.aliases {
		if v := field(id, a.Field); v != "" && httpguts.ValidHeaderFieldValue(v) {
			dst[a.Header] = []string{v}
		} else {
			delete(dst, a.Header)
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
