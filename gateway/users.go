package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authgate/authgate/authsvc"
	"github.com/authgate/authgate/gateway/internal/adminapi"
	"github.com/authgate/authgate/gateway/internal/app"
	"github.com/authgate/authgate/gateway/internal/authapi"
)

// Account administration for operators without a browser: the same core calls as the
// admin API (/api/admin), on the configured stores, with the same rules (registration's
// for new accounts and passwords, the last admin kept). Passwords are read from
// standard input, never from the command line. Output goes to stdout, log lines to
// stderr.

type usersCmd struct {
	Create        usersCreateCmd        `cmd:"" help:"Create a verified account; its password is the first line of standard input."`
	List          usersListCmd          `cmd:"" help:"List users (search on email or name, paged)."`
	SetRole       usersSetRoleCmd       `cmd:"" help:"Change a user's role; it takes effect on the user's next request."`
	Disable       usersDisableCmd       `cmd:"" help:"Disable an account: every session ends, login and refresh are refused."`
	Enable        usersEnableCmd        `cmd:"" help:"Enable a disabled account again."`
	ResetPassword usersResetPasswordCmd `cmd:"" help:"Set a new password (first line of standard input) and end every session."`
}

type sessionsCmd struct {
	List   sessionsListCmd   `cmd:"" help:"List a user's live sessions."`
	Revoke sessionsRevokeCmd `cmd:"" help:"End one session of a user, or all of them with --all."`
}

// accounts opens the configured stores (as migrate does, logs to stderr), prepares the
// database as serving would, and hands the core to f, running (so that the audit events
// f causes, with the actor "cli", are written before the command exits).
func (e *env) accounts(f func(a *app.App) error) error {
	p, err := app.Prepare(app.Options{ConfigPath: e.configPath, Getenv: e.getenv, Logs: e.stderr})
	if err != nil {
		return err
	}
	defer p.FlushLogs()
	a, err := p.Open(e.ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Accounts.Init(e.ctx); err != nil {
		return fmt.Errorf("mongodb: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(e.ctx))
	done := make(chan struct{})
	go func() { a.Accounts.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	e.ctx = authsvc.WithActor(e.ctx, "cli")
	return f(a)
}

// audit logs an operator's action like the admin API's "admin action" lines.
func audit(a *app.App, action, target string, attrs ...any) {
	a.Log.Info("admin action", append([]any{"actor_id", "cli", "action", action, "target_id", target}, attrs...)...)
}

// find resolves EMAIL|ID to a user. Errors: "no user …", ErrUnavailable.
func find(e *env, a *app.App, ref string) (authsvc.User, error) {
	u, err := a.Accounts.FindUser(e.ctx, ref)
	if errors.Is(err, authsvc.ErrNotFound) {
		return authsvc.User{}, fmt.Errorf("no user %q", ref)
	}
	return u, err
}

// readPassword reads the first line of stdin (without its line ending).
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// cliError says a core error in one line: validation issues by field.
func cliError(err error, passwordMax int) error {
	var ve *authsvc.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var parts []string
	for _, is := range ve.Issues {
		msg := is.Code
		switch is.Field + "/" + is.Code {
		case "password/" + authsvc.IssueRequired:
			msg = "required (the first line of standard input)"
		case "password/" + authsvc.IssueTooShort:
			msg = fmt.Sprintf("must be at least %d characters", authsvc.MinPasswordLength)
		case "password/" + authsvc.IssueTooLong:
			msg = fmt.Sprintf("must be at most %d characters", passwordMax)
		case "role/" + authsvc.IssueInvalid:
			msg = "a letter or digit, then up to 63 letters, digits, _ . : or -"
		}
		parts = append(parts, is.Field+": "+msg)
	}
	return errors.New("invalid input: " + strings.Join(parts, "; "))
}

type usersCreateCmd struct {
	Email string `required:"" help:"Email address (trimmed and lower-cased)."`
	Name  string `required:"" help:"Display name."`
	Role  string `default:"user" help:"Role (admin for an administrator)."`
}

func (c *usersCreateCmd) Run(e *env) error {
	pw, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	return e.accounts(func(a *app.App) error {
		u, err := a.Accounts.CreateUser(e.ctx, authsvc.NewUser{Name: c.Name, Email: c.Email, Password: pw, Role: c.Role})
		if errors.Is(err, authsvc.ErrEmailTaken) {
			return fmt.Errorf("an account with email %q exists", authsvc.NormalizeEmail(c.Email))
		}
		if err != nil {
			return cliError(err, a.Config.Passwords.MaxLength)
		}
		audit(a, "user.create", u.ID, "role", u.Role)
		fmt.Fprintf(e.stdout, "created user %s (%s, role %s)\n", u.ID, u.Email, u.Role)
		return nil
	})
}

type usersListCmd struct {
	Q     string `help:"Only users whose email or name contains this (case-insensitive)."`
	Page  int    `default:"1" help:"Page, from 1."`
	Limit int    `default:"20" help:"Users per page, 1 to 100."`
	JSON  bool   `name:"json" help:"Print the page as JSON (the admin API's data object)."`
}

func (c *usersListCmd) Run(e *env) error {
	if c.Page < 1 || c.Limit < 1 { // the core reads 0 as "the default"
		return errors.New("invalid input: --page and --limit start at 1")
	}
	return e.accounts(func(a *app.App) error {
		p, err := a.Accounts.ListUsers(e.ctx, authsvc.UserQuery{Q: c.Q, Page: c.Page, Limit: c.Limit})
		if err != nil {
			return cliError(err, 0)
		}
		if c.JSON {
			list := make([]map[string]any, 0, len(p.Users))
			for _, u := range p.Users {
				list = append(list, adminapi.RenderUser(u))
			}
			return json.NewEncoder(e.stdout).Encode(map[string]any{"users": list, "page": p.Page, "limit": p.Limit, "total": p.Total})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tDISABLED\tCREATED")
		for _, u := range p.Users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", u.ID, u.Email, oneLine(u.Name), u.Role, u.Disabled, u.CreatedAt.UTC().Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "page %d, %d per page, %d users in all\n", p.Page, p.Limit, p.Total)
		return nil
	})
}

// oneLine keeps a table row on one line whatever a user put in their name.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

type usersSetRoleCmd struct {
	User string `arg:"" name:"EMAIL|ID" help:"The user's email or id."`
	Role string `arg:"" name:"ROLE" help:"The new role."`
}

func (c *usersSetRoleCmd) Run(e *env) error {
	return e.accounts(func(a *app.App) error {
		u, err := find(e, a, c.User)
		if err != nil {
			return err
		}
		if _, err := a.Accounts.UpdateUser(e.ctx, u.ID, authsvc.UserUpdate{Role: &c.Role}); err != nil {
			return cliError(err, 0)
		}
		audit(a, "user.update", u.ID, "role", c.Role)
		fmt.Fprintf(e.stdout, "role of %s is now %s\n", u.Email, c.Role)
		return nil
	})
}

type usersDisableCmd struct {
	User string `arg:"" name:"EMAIL|ID" help:"The user's email or id."`
}

func (c *usersDisableCmd) Run(e *env) error { return setDisabled(e, c.User, true) }

type usersEnableCmd struct {
	User string `arg:"" name:"EMAIL|ID" help:"The user's email or id."`
}

func (c *usersEnableCmd) Run(e *env) error { return setDisabled(e, c.User, false) }

func setDisabled(e *env, ref string, disabled bool) error {
	return e.accounts(func(a *app.App) error {
		u, err := find(e, a, ref)
		if err != nil {
			return err
		}
		if _, err := a.Accounts.UpdateUser(e.ctx, u.ID, authsvc.UserUpdate{Disabled: &disabled}); err != nil {
			return cliError(err, 0)
		}
		audit(a, "user.update", u.ID, "disabled", disabled)
		if disabled {
			fmt.Fprintf(e.stdout, "disabled %s; every session ended\n", u.Email)
		} else {
			fmt.Fprintf(e.stdout, "enabled %s\n", u.Email)
		}
		return nil
	})
}

type usersResetPasswordCmd struct {
	User string `arg:"" name:"EMAIL|ID" help:"The user's email or id."`
}

func (c *usersResetPasswordCmd) Run(e *env) error {
	pw, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	return e.accounts(func(a *app.App) error {
		u, err := find(e, a, c.User)
		if err != nil {
			return err
		}
		if err := a.Accounts.SetPassword(e.ctx, u.ID, pw); err != nil {
			return cliError(err, a.Config.Passwords.MaxLength)
		}
		audit(a, "user.reset_password", u.ID)
		fmt.Fprintf(e.stdout, "password of %s set; every session ended\n", u.Email)
		return nil
	})
}

type sessionsListCmd struct {
	User string `arg:"" name:"EMAIL|ID" help:"The user's email or id."`
	JSON bool   `name:"json" help:"Print the sessions as JSON."`
}

func (c *sessionsListCmd) Run(e *env) error {
	return e.accounts(func(a *app.App) error {
		u, err := find(e, a, c.User)
		if err != nil {
			return err
		}
		list, err := a.Accounts.UserSessions(e.ctx, u.ID)
		if err != nil {
			return err
		}
		if c.JSON {
			out := make([]map[string]any, 0, len(list))
			for _, s := range list {
				out = append(out, authapi.RenderSession(s))
			}
			return json.NewEncoder(e.stdout).Encode(map[string]any{"sessions": out})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tLAST SEEN\tIP\tUSER AGENT")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.CreatedAt.UTC().Format(time.RFC3339),
				s.LastSeen.UTC().Format(time.RFC3339), s.IP, oneLine(s.UserAgent))
		}
		return tw.Flush()
	})
}

type sessionsRevokeCmd struct {
	User    string `arg:"" name:"EMAIL|ID" help:"The user's email or id."`
	Session string `arg:"" optional:"" name:"SESSION_ID" help:"The session to end (see sessions list)."`
	All     bool   `help:"End every session of the user."`
}

func (c *sessionsRevokeCmd) Run(e *env) error {
	if (c.Session == "") == !c.All {
		return errors.New("name one SESSION_ID or give --all")
	}
	return e.accounts(func(a *app.App) error {
		u, err := find(e, a, c.User)
		if err != nil {
			return err
		}
		if c.All {
			n, err := a.Accounts.RevokeUserSessions(e.ctx, u.ID)
			if err != nil {
				return err
			}
			audit(a, "sessions.revoke_all", u.ID, "sessions", n)
			fmt.Fprintf(e.stdout, "%d sessions of %s ended\n", n, u.Email)
			return nil
		}
		if err := a.Accounts.RevokeUserSession(e.ctx, u.ID, c.Session); errors.Is(err, authsvc.ErrNotFound) {
			return fmt.Errorf("%s has no session %q", u.Email, c.Session)
		} else if err != nil {
			return err
		}
		audit(a, "sessions.revoke", u.ID, "session_id", c.Session)
		fmt.Fprintf(e.stdout, "session %s of %s ended\n", c.Session, u.Email)
		return nil
	})
}
