package authapi

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/cookies"
	"github.com/authgate/authgate/gateway/internal/forwarded"
)

// Recovery is what email verification and password reset need from the account core.
type Recovery interface {
	// VerifyEmail consumes a verification code: ErrVerificationFailed, ErrRateLimited,
	// ErrUnavailable.
	VerifyEmail(ctx context.Context, code string, cl authsvc.Client) error
	// ForgotPassword starts a reset for any email and returns at once:
	// *authsvc.ValidationError, ErrRateLimited, ErrUnavailable.
	ForgotPassword(ctx context.Context, email string, cl authsvc.Client) error
	// ResetPassword sets a new password with a reset token: ErrResetTokenInvalid,
	// ErrUnavailable.
	ResetPassword(ctx context.Context, token, newPassword string) error
	// ValidatePassword returns the problems of a new password.
	ValidatePassword(pw string) []authsvc.Issue
}

// EmailAPI serves the seed's email verification and password reset under /api/auth.
type EmailAPI struct {
	core              Recovery
	jar               *cookies.Jar
	trust             *forwarded.Trust
	passwordMaxLength int
}

// NewEmailAPI returns the handlers; trust names the client IP the core's limits count
// by, passwordMaxLength is named in the seed's "Password must be less than N
// characters".
func NewEmailAPI(core Recovery, jar *cookies.Jar, trust *forwarded.Trust, passwordMaxLength int) *EmailAPI {
	return &EmailAPI{core: core, jar: jar, trust: trust, passwordMaxLength: passwordMaxLength}
}

// client is where r comes from, as the trusted proxies say.
func (a *EmailAPI) client(r *http.Request) authsvc.Client {
	return authsvc.Client{IP: a.trust.ClientIP(r), UserAgent: r.UserAgent()}
}

// VerifyEmail handles GET /api/auth/verifyemail/:verificationCode: 200 "Email verified
// successfully". Errors: authsvc.ErrVerificationFailed (401 "Could not verify email"),
// ErrRateLimited, ErrUnavailable.
func (a *EmailAPI) VerifyEmail(c echo.Context) error {
	r := c.Request()
	if err := a.core.VerifyEmail(r.Context(), c.Param("verificationCode"), a.client(r)); err != nil {
		return err
	}
	return success(c, "Email verified successfully")
}

// ForgotPassword handles POST /api/auth/forgotpassword {email}: the same 200 answer
// for every well-formed email, known or not, verified or not, at once (the core mails
// in the background; SECURITY.md E2), also past the per-email limit. Errors:
// *httperr.ValidationError (email missing or not an email), authsvc.ErrRateLimited
// (this client IP's limit), ErrUnavailable, ErrMalformedBody.
func (a *EmailAPI) ForgotPassword(c echo.Context) error {
	b, err := decodeRequest(c.Request())
	if err != nil {
		return err
	}
	var v validator
	email, ok := v.str(b, "email", "Email is required")
	if ok && !authsvc.ValidEmail(email) {
		v.add("email", "invalid_string", "Invalid email")
	}
	if err := v.err(); err != nil {
		return err
	}
	if err := a.core.ForgotPassword(c.Request().Context(), email, a.client(c.Request())); err != nil {
		return err
	}
	return success(c, "You will receive a password reset email if user with that email exist")
}

// ResetPassword handles PATCH /api/auth/resetpassword/:resetToken {password,
// passwordConfirm}, validated like registration: 200, every session of the user
// revoked and this browser's cookies cleared. Errors: *httperr.ValidationError,
// authsvc.ErrResetTokenInvalid (403 "Token is invalid or has expired"), ErrUnavailable,
// ErrMalformedBody.
func (a *EmailAPI) ResetPassword(c echo.Context) error {
	r := c.Request()
	b, err := decodeRequest(r)
	if err != nil {
		return err
	}
	pw, err := a.validateReset(b)
	if err != nil {
		return err
	}
	if err := a.core.ResetPassword(r.Context(), c.Param("resetToken"), pw); err != nil {
		return err
	}
	a.jar.Clear(c.Response(), r, true)
	return success(c, "Password data successfully updated, please login with your new credentials")
}

// validateReset checks a reset body with register's messages and order.
func (a *EmailAPI) validateReset(b body) (string, error) {
	var v validator
	return validateNewPassword(&v, b, a.core.ValidatePassword, a.passwordMaxLength)
}

// validateNewPassword checks the password and passwordConfirm fields of b with
// register's messages and order, after the problems v already holds (of fields that
// come before them); "Passwords do not match" comes only when nothing else is wrong.
// rules are the core's password rules, maxLength is named in their messages.
func validateNewPassword(v *validator, b body, rules func(string) []authsvc.Issue, maxLength int) (string, error) {
	var values validator
	before := len(v.problems)
	pw, ok := v.str(b, "password", "Password is required")
	if ok {
		for _, is := range rules(pw) {
			code, msg := issueMessage(is, maxLength)
			values.add("password", code, msg)
		}
	}
	confirm, _ := v.str(b, "passwordConfirm", "Please confirm your password")
	v.problems = append(v.problems[:before:before],
		mergeByField(v.problems[before:], values.problems, []string{"password", "passwordConfirm"})...)
	if err := v.err(); err != nil {
		return "", err
	}
	if confirm != pw {
		v.add("passwordConfirm", "custom", "Passwords do not match")
		return "", v.err()
	}
	return pw, nil
}

// success is the seed's {"status":"success","message":…}.
func success(c echo.Context, msg string) error {
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "message": msg})
}

// The account core satisfies the handlers' needs.
var _ Recovery = (*authsvc.Service)(nil)
