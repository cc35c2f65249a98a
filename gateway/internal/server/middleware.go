package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/authgate/authgate/gateway/internal/httperr"
	"github.com/authgate/authgate/gateway/internal/proxy"
)

const (
	headerRequestID = "X-Request-Id"
	ctxUserID       = "authgate.user_id"
)

// stripClientHeaders deletes every client-sent header the gateway or an upstream could
// read as identity (SECURITY.md H1), before routing, on every path.
func (s *Server) stripClientHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	aliases := append(s.deps.Headers.Names(), s.deps.StripHeaders...)
	return func(c echo.Context) error {
		h := c.Request().Header
		if upgradesTo(h, "h2c") {
			return httperr.ErrUpgradeRefused
		}
		proxy.StripIdentityHeaders(h, aliases)
		return next(c)
	}
}

// upgradesTo reports whether an Upgrade header asks for protocol (any case, any of a
// list).
func upgradesTo(h http.Header, protocol string) bool {
	for _, v := range h.Values("Upgrade") {
		for p := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(p), "/")
			if strings.EqualFold(name, protocol) {
				return true
			}
		}
	}
	return false
}

// sameSite refuses a cross-site browser request with an unsafe method (SECURITY.md C3);
// requests with an Authorization header carry no ambient credential and pass.
func (s *Server) sameSite(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Header.Get("Authorization") == "" {
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
		if r.Header.Get("Authorization") == "" {
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
		return next(c)
	}
}

// requestID keeps a well-formed client X-Request-Id or makes a new one, and sets it on
// the request (forwarded upstream) and the response.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id := r.Header.Get(headerRequestID)
		if !validRequestID(id) {
			id = newRequestID()
			r.Header.Set(headerRequestID, id)
		}
		c.Response().Header().Set(headerRequestID, id)
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

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// accessLog writes one JSON line per request, panics included (as 500): never the query
// string, cookies or tokens (SECURITY.md C2).
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err) // render now so the logged status is the real one
		}
		r := c.Request()
		uid, _ := c.Get(ctxUserID).(string)
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("ip", c.RealIP()),
			slog.String("user_id", uid),
			slog.String("request_id", r.Header.Get(headerRequestID)),
		)
		return nil
	}
}

// recover turns a panic in a handler into an error (a 500 in the envelope, logged by
// accessLog); http.ErrAbortHandler (a client gone mid-proxy) is passed on to net/http,
// which handles it silently.
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
					panic(v)
				}
				s.log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(v),
					"request_id", c.Request().Header.Get(headerRequestID))
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		return next(c)
	}
}

// corsConfig allows exactly the configured origins, with credentials; never "*"
// (SECURITY.md C4).
func corsConfig(origins []string) middleware.CORSConfig {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		allowed[strings.TrimRight(o, "/")] = true
	}
	return middleware.CORSConfig{
		AllowOriginFunc:  func(origin string) (bool, error) { return allowed[origin], nil },
		AllowMethods:     []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowHeaders:     []string{"Content-Type", "Authorization", "X-Requested-With", headerRequestID},
		AllowCredentials: true,
		ExposeHeaders:    []string{headerRequestID},
		MaxAge:           600,
	}
}
