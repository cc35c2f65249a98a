package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/authapi"
	"github.com/authgate/authgate/gateway/internal/httperr"
)

// problems collects validation problems in order.
type problems []httperr.Problem

func (p *problems) add(path []string, code, msg string) {
	*p = append(*p, httperr.Problem{Path: path, Message: msg, Code: code})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &httperr.ValidationError{Problems: p}
}

// parseQuery reads ?q=, ?page= and ?limit= (the first of each; absent: all users, page
// 1, 20 per page). Errors: *httperr.ValidationError.
func parseQuery(v url.Values) (authsvc.UserQuery, error) {
	var ps problems
	q := authsvc.UserQuery{Q: v.Get("q")}
	if n := utf8.RuneCountInString(q.Q); n > authsvc.MaxQueryLength || !utf8.ValidString(q.Q) || strings.ContainsRune(q.Q, 0) {
		ps.add([]string{"query", "q"}, "invalid", "Search must be text of at most "+strconv.Itoa(authsvc.MaxQueryLength)+" characters")
	}
	num := func(name, msg string, lo, hi int) int {
		s, ok := v[name]
		if !ok {
			return 0
		}
		n, err := strconv.Atoi(s[0])
		if err != nil || n < lo || n > hi {
			ps.add([]string{"query", name}, "invalid", msg)
			return 0
		}
		return n
	}
	q.Page = num("page", "Page must be a whole number from 1", 1, 1_000_000)
	q.Limit = num("limit", "Limit must be a whole number from 1 to "+strconv.Itoa(authsvc.MaxPageLimit), 1, authsvc.MaxPageLimit)
	if err := ps.err(); err != nil {
		return authsvc.UserQuery{}, err
	}
	return q, nil
}

// decodeUpdate reads a PATCH body: "role" (a string) and/or "disabled" (a boolean);
// other members are ignored, as the account API ignores them. A body that is not
// declared application/json reads as {} (like the account API: a cross-site form
// cannot make a change), which changes nothing and is refused. Errors:
// *httperr.ValidationError, httperr.ErrMalformedBody, ErrBodyTooLarge, ErrBodyTimeout.
func decodeUpdate(r *http.Request) (authsvc.UserUpdate, error) {
	b, err := authapi.DecodeRequest(r)
	if err != nil {
		return authsvc.UserUpdate{}, err
	}
	var ps problems
	var up authsvc.UserUpdate
	if raw, ok := b["role"]; ok {
		var role string
		switch {
		case string(raw) == "null" || json.Unmarshal(raw, &role) != nil:
			ps.add([]string{"body", "role"}, "invalid_type", "Expected string, received "+authapi.JSONKind(raw))
		case role == "":
			ps.add([]string{"body", "role"}, "too_small", "Role is required")
		case !authsvc.ValidRole(role):
			ps.add([]string{"body", "role"}, "invalid_string",
				"Invalid role: a letter or digit, then up to 63 letters, digits, _ . : or -")
		default:
			up.Role = &role
		}
	}
	if raw, ok := b["disabled"]; ok {
		var d bool
		if json.Unmarshal(raw, &d) != nil || string(raw) == "null" {
			ps.add([]string{"body", "disabled"}, "invalid_type", "Expected boolean, received "+authapi.JSONKind(raw))
		} else {
			up.Disabled = &d
		}
	}
	if err := ps.err(); err != nil {
		return authsvc.UserUpdate{}, err
	}
	if up.Role == nil && up.Disabled == nil {
		ps.add([]string{"body"}, "custom", "Nothing to change: send role and/or disabled")
		return authsvc.UserUpdate{}, ps.err()
	}
	return up, nil
}

// coreError turns the core's validation issues (which the handlers check first, so
// only a core rule the handler does not know) into the seed's envelope; other errors
// pass as they are.
func coreError(err error, in string) error {
	var ve *authsvc.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var ps problems
	for _, is := range ve.Issues {
		ps.add([]string{in, is.Field}, is.Code, "Invalid "+is.Field)
	}
	return ps.err()
}
