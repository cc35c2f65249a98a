package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/authgate/authgate/gateway/internal/app"
)

// cli is the gateway's command line: serving is the default command.
type cli struct {
	Config string `help:"YAML configuration file (default: configs/gateway.yaml if it exists)." placeholder:"PATH" type:"path"`

	Serve   serveCmd   `cmd:"" default:"withargs" help:"Serve the gateway (the default)."`
	Migrate migrateCmd `cmd:"" help:"Bring a seed database up to date (email normalisation, bcrypt inventory), resumably, and report."`
	Check   checkCmd   `cmd:"" name:"config" help:"Configuration commands."`
	Keys    keysCmd    `cmd:"" help:"Signing key commands (README \"Key rotation\")."`

	Users    usersCmd    `cmd:"" help:"Account administration (README \"Administration\")."`
	Sessions sessionsCmd `cmd:"" help:"Session administration: list and end a user's sessions."`
}

// env is what every command gets: where the configuration comes from, where output goes.
type env struct {
	ctx            context.Context
	getenv         func(string) string
	stdin          io.Reader // passwords for users create and users reset-password
	stdout, stderr io.Writer
	configPath     string
}

// prepare loads and checks the configuration; the caller defers FlushLogs.
func (e *env) prepare() (*app.Prepared, error) {
	return app.Prepare(app.Options{ConfigPath: e.configPath, Getenv: e.getenv, Logs: e.stdout})
}

type serveCmd struct {
	Migrate bool `help:"Run the seed-database migration before serving."`
}

func (c *serveCmd) Run(e *env) error {
	p, err := e.prepare()
	if err != nil {
		return err
	}
	defer p.FlushLogs()
	a, err := p.Open(e.ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if c.Migrate {
		if err := migrate(e, a); err != nil {
			return err
		}
	}
	if err := a.Accounts.Init(e.ctx); err != nil {
		return fmt.Errorf("mongodb: %w", err)
	}
	if err := a.Bootstrap(e.ctx); err != nil {
		return err
	}
	return a.Serve(e.ctx)
}

type migrateCmd struct{}

func (c *migrateCmd) Run(e *env) error {
	p, err := e.prepare()
	if err != nil {
		return err
	}
	defer p.FlushLogs()
	a, err := p.Open(e.ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	return migrate(e, a)
}

func migrate(e *env, a *app.App) error {
	rep, err := a.Accounts.Migrate(e.ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	a.Log.Info("migration done", "resumed", rep.Resumed, "scanned", rep.Scanned, "normalised", rep.Normalised,
		"conflicts", rep.Conflicts, "bcrypt_remaining", rep.Bcrypt)
	fmt.Fprintf(e.stderr, "migration: %d users scanned, %d emails normalised, %d left as typed (another account has the normalised email: %v), %d bcrypt hashes remain (upgraded at each user's next login; failed logins stay padded until then)\n",
		rep.Scanned, rep.Normalised, len(rep.Conflicts), rep.Conflicts, rep.Bcrypt)
	return nil
}

type checkCmd struct {
	Check configCheckCmd `cmd:"" name:"check" help:"Validate the configuration (routes and keys included) and exit."`
}

type configCheckCmd struct{}

func (c *configCheckCmd) Run(e *env) error {
	if _, err := e.prepare(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "configuration OK")
	return nil
}

// exitRequest is how --help asks run to stop (kong would otherwise call os.Exit).
type exitRequest struct{ code int }

// run is runWithInput with an empty standard input.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runWithInput(ctx, args, getenv, strings.NewReader(""), stdout, stderr)
}

// runWithInput parses args and runs the chosen command until ctx ends; stdin is read only
// by the commands that take a password. `gateway` with no command serves.
func runWithInput(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("gateway"),
		kong.Description("authgate: an authenticating reverse proxy with local accounts. See README.md."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest{code}) }),
		kong.UsageOnError(),
	)
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			req, ok := v.(exitRequest)
			if !ok {
				panic(v)
			}
			if req.code != 0 {
				err = errors.New("invalid command line")
			}
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		return err
	}
	return kctx.Run(&env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, configPath: c.Config})
}
