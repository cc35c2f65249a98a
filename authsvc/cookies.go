package authsvc

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// setCookies sets access_token and logged_in (Max-Age = access TTL, so the browser drops
// them together with the token and the client refreshes) and, when refresh is not empty,
// the rotated refresh_token.
func (s *Service) setCookies(c echo.Context, access, refresh string) {
	accessAge := int(s.cfg.AccessTTL.Seconds())
	c.SetCookie(s.cookie(AccessCookie, access, "/", accessAge, true))
	if refresh != "" {
		c.SetCookie(s.cookie(RefreshCookie, refresh, s.cfg.RefreshCookiePath, int(s.cfg.RefreshTTL.Seconds()), true))
	}
	c.SetCookie(s.cookie(LoggedInCookie, "true", "/", accessAge, false))
}

// clearCookies expires the cookies with the attributes they were set with; the refresh
// cookie only when refresh is true.
func (s *Service) clearCookies(c echo.Context, refresh bool) {
	c.SetCookie(s.cookie(AccessCookie, "", "/", -1, true))
	if refresh {
		c.SetCookie(s.cookie(RefreshCookie, "", s.cfg.RefreshCookiePath, -1, true))
	}
	c.SetCookie(s.cookie(LoggedInCookie, "", "/", -1, false))
}

// cookie builds one of the gateway's cookies; maxAge < 0 renders Max-Age=0 and an
// Expires in 1970 (delete: browsers read the former, some other clients only the latter).
func (s *Service) cookie(name, value, path string, maxAge int, httpOnly bool) *http.Cookie {
	var expires time.Time
	if maxAge < 0 {
		expires = time.Unix(1, 0)
	}
	// Secure is configuration: on in production, off for plain-http development.
	return &http.Cookie{ //nolint:gosec // G124: Secure comes from config (forced in production); HttpOnly is off only for logged_in, which the seed client reads
		Expires:  expires,
		Name:     name,
		Value:    value,
		Path:     path,
		MaxAge:   maxAge,
		HttpOnly: httpOnly,
		Secure:   s.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	}
}
