package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/authgate/authgate/gateway/internal/proxy"
)

const (
	headerRequestID = "X-Request-Id"
	ctxUserID       = "authgate.user_id"
)

// stripIdentityHeaders deletes every client-sent header the gateway or an upstream could
// read as identity (SECURITY.md H1), before routing, on every path.
func (s *Server) stripIdentityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	aliases := s.deps.Proxy.Aliases
	return func(c echo.Context) error {
		proxy.StripIdentityHeaders(c.Request().Header, aliases)
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

func requestID(c echo.Context) string { return c.Request().Header.Get(headerRequestID) }

// accessLog writes one JSON line per request: never the query string, cookies or tokens.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
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
			slog.String("request_id", requestID(c)),
		)
		return nil
	}
}

// recover turns a panic in a handler into a 500 in the envelope; http.ErrAbortHandler
// (a client gone mid-proxy) is passed on to net/http, which handles it silently.
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
					panic(v)
				}
				s.log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(v), "request_id", requestID(c))
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		return next(c)
	}
}

// corsConfig allows exactly the configured origins, with credentials; never "*".
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

// ipExtractor reads the client address from the socket, or from X-Forwarded-For only
// when the peer is a configured trusted proxy (SECURITY.md H3).
func ipExtractor(trusted []string) (echo.IPExtractor, error) {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	opts := []echo.TrustOption{
		echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false),
	}
	for _, t := range trusted {
		if !strings.Contains(t, "/") {
			if ip := net.ParseIP(t); ip != nil && ip.To4() != nil {
				t += "/32"
			} else {
				t += "/128"
			}
		}
		_, n, err := net.ParseCIDR(t)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %q: %w", t, err)
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...), nil
}
