package adminapi

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/authsvc"
)

// Bans is what lifting lockouts needs from the account core.
type Bans interface {
	// Bans lists the lockouts in force: ErrUnavailable.
	Bans(ctx context.Context) ([]authsvc.Ban, error)
	// LiftBan ends one and forgets its subject's failures: ErrNotFound, ErrUnavailable.
	LiftBan(ctx context.Context, id string) error
}

// BansAPI serves /api/admin/bans.
type BansAPI struct {
	core Bans
	api  *API // for the "admin action" line
}

// NewBansAPI returns the handlers; admin actions are logged through api.
func NewBansAPI(core Bans, api *API) *BansAPI { return &BansAPI{core: core, api: api} }

// List handles GET /api/admin/bans: the lockouts in force (README "Brute-force
// regulation"), as {"status":"success","data":{"bans":[{"id","kind","subject","until",
// "failures"}]}}; kind is "account" (subject: the email) or "ip". Errors:
// authsvc.ErrUnavailable.
func (b *BansAPI) List(c echo.Context) error {
	bans, err := b.core.Bans(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(bans))
	for _, x := range bans {
		out = append(out, map[string]any{
			"id": x.ID, "kind": x.Kind, "subject": x.Subject,
			"until": x.Until.UTC().Format(time.RFC3339Nano), "failures": x.Failures,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"bans": out}})
}

// Lift handles DELETE /api/admin/bans/:id: the lockout ends at once (the account or IP
// may sign in again, with its full allowance of failures). Errors: authsvc.ErrNotFound
// (no such ban in force), ErrUnavailable.
func (b *BansAPI) Lift(c echo.Context) error {
	id := c.Param("id")
	if err := b.core.LiftBan(c.Request().Context(), id); err != nil {
		return err
	}
	b.api.audit(c, "ban.lift", id)
	return c.JSON(http.StatusOK, map[string]any{"status": "success"})
}

// The account core satisfies the handlers' needs.
var _ Bans = (*authsvc.Service)(nil)
