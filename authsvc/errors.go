package authsvc

import (
	"errors"
	"strings"
)

// Sentinel errors of the account core. The gateway maps each one to a status and message
// in one table (gateway/internal/httperr); test for them with errors.Is.
var (
	// ErrNotLoggedIn: no credential at all (the seed client refreshes only on this).
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrInvalidToken: the token is malformed, badly signed, expired or of the wrong type.
	ErrInvalidToken = errors.New("invalid token")
	// ErrSessionExpired: the token is fine but its session is gone (logged out, revoked,
	// idle or absolute limit reached, user deleted).
	ErrSessionExpired = errors.New("session expired")
	// ErrForbidden: authenticated, but the role is not allowed.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidCredentials: unknown email, wrong password or unusable hash; the cases are
	// indistinguishable on purpose (SECURITY.md P3).
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrEmailTaken: registration with an email that already has an account.
	ErrEmailTaken = errors.New("email already exists")
	// ErrRefreshFailed: the refresh token is missing, invalid, replayed or its session is gone.
	ErrRefreshFailed = errors.New("could not refresh access token")
	// ErrWrongPassword: the current password given to change it is not the account's
	// (not ErrInvalidCredentials: the caller is signed in, and must not be told to log in).
	ErrWrongPassword = errors.New("current password is incorrect")
	// ErrNotFound: no such user or session (of this user).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: a dependency (Redis, MongoDB, the hashing pool) cannot answer in time;
	// the caller should retry. Never means "allowed".
	ErrUnavailable = errors.New("service unavailable")
)

// Sentinel errors of email verification and password reset (email.go).
var (
	// ErrNotVerified: the password is right, but login requires a verified email and
	// this account's is not (checked only after the password, so it reveals nothing to
	// someone without it).
	ErrNotVerified = errors.New("email not verified")
	// ErrVerificationFailed: the verification code is unknown, expired or already used.
	ErrVerificationFailed = errors.New("could not verify email")
	// ErrResetTokenInvalid: the password-reset token is unknown, expired or already used.
	ErrResetTokenInvalid = errors.New("password reset token is invalid or has expired")
	// ErrMailFailed: a mail the caller waits for (the verification mail of a
	// registration) could not be sent; nothing was kept, so the caller may retry.
	ErrMailFailed = errors.New("could not send email")
)

// Issue codes of a ValidationError.
const (
	IssueRequired = "required" // missing or blank
	IssueInvalid  = "invalid"  // not a usable value (an email that is not one)
	IssueTooShort = "too_short"
	IssueTooLong  = "too_long"
)

// Issue is one problem with one field of the input.
type Issue struct {
	Field string // "name", "email", "password"
	Code  string // IssueRequired, IssueInvalid, IssueTooShort, IssueTooLong
}

// ValidationError lists every problem found in an input, in field order. Callers turn
// the codes into their own words (the JSON API uses the seed's messages).
type ValidationError struct {
	Issues []Issue
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Issues))
	for _, is := range e.Issues {
		parts = append(parts, is.Field+" "+is.Code)
	}
	return "validation failed: " + strings.Join(parts, ", ")
}
