package authsvc

import "errors"

// Sentinel errors returned by the account service. The gateway maps each one to the
// seed's status code and message in a single table (gateway/internal/server/errors.go);
// test for them with errors.Is.
var (
	// ErrNotLoggedIn: the request carries no access token at all (401
	// "You are not logged in"; the seed client refreshes only on this message).
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrInvalidToken: the token is malformed, badly signed, expired or of the wrong type.
	ErrInvalidToken = errors.New("invalid token")
	// ErrSessionExpired: the token is fine but its session is gone (logged out, revoked,
	// idle or absolute limit reached, user deleted).
	ErrSessionExpired = errors.New("session expired")
	// ErrForbidden: authenticated, but the role is not allowed on this route.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidCredentials: unknown email, wrong password or disabled account; the three are
	// indistinguishable on purpose.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrEmailTaken: registration with an email that already has an account.
	ErrEmailTaken = errors.New("email already exists")
	// ErrRefreshFailed: the refresh token is missing, invalid, replayed or its session is gone.
	ErrRefreshFailed = errors.New("could not refresh access token")
	// ErrMalformedBody: the request body is not a JSON object.
	ErrMalformedBody = errors.New("malformed JSON body")
	// ErrUnavailable: a dependency (Redis, MongoDB, the hashing pool) cannot answer in time;
	// the caller should retry. Never means "allowed".
	ErrUnavailable = errors.New("service unavailable")
)

// ValidationError lists every problem found in a request body, in the seed's shape:
// {"status":"fail","error":[{"path":["body","email"],"message":"...","code":"..."}]}.
type ValidationError struct {
	Issues []Issue
}

// Issue is one validation problem.
type Issue struct {
	Path    []string `json:"path"`
	Message string   `json:"message"`
	Code    string   `json:"code"`
}

func (e *ValidationError) Error() string {
	if len(e.Issues) == 0 {
		return "validation failed"
	}
	return "validation failed: " + e.Issues[0].Message
}
