package server

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/gateway/internal/cookies"
)

const headerRequestID = "X-Request-Id"

// sameSite refuses a cross-site browser request with an unsafe method (SECURITY.md C3);
// requests authenticated by a Bearer token carry no ambient credential and pass. Any
// other Authorization header (Basic credentials a browser sends by itself once an
// upstream asked for them) does not exempt a request: the cookies still speak for it.
func (s *Server) sameSite(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if _, bearer := cookies.BearerToken(r); !bearer {
			if err := s.deps.CSRF.Check(r); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// sameSiteState is sameSite for a GET that changes state (refresh, logout): a link or
// image on another site must not rotate tokens or log anyone out.
func (s *Server) sameSiteState(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if _, bearer := cookies.BearerToken(r); !bearer {
			if err := s.deps.CSRF.CheckState(r); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// noStore marks every answer of the account API uncacheable (SECURITY.md C7).
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

// redactPath puts the route's pattern in place of the request path for everything
// after routing (the access log, error logs), for routes whose path carries a secret
// (a verification code, a reset token; SECURITY.md C2, E4). Handlers read the value
// with c.Param, which routing has already filled.
func redactPath(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		u := *r.URL
		u.Path, u.RawPath = c.Path(), ""
		r2 := r.WithContext(r.Context())
		r2.URL, r2.RequestURI = &u, u.RequestURI()
		c.SetRequest(r2)
		setLogPath(c.Response().Writer, u.Path)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_', b == '.':
		default:
			return false
		}
	}
	return true
}

// newRequestID is this process's random prefix and a counter: unique across replicas
// and restarts with overwhelming probability, without a system call per request.
func (s *Server) newRequestID() string {
	var b [40]byte
	n := copy(b[:], s.idPrefix)
	b[n] = '-'
	return string(strconv.AppendUint(b[:n+1], s.ids.Add(1), 36))
}

// idPrefix is 16 random hex digits for newRequestID.
func idPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
