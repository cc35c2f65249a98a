// Command upstream-demo is a sample backend behind authgate: GET /api/users (admin) and
// GET /api/users/me, reading users from the same MongoDB as the gateway, and GET
// /api/whoami, which echoes the caller without any database work (the benchmark suite's
// upstream). It never returns a password hash. By default it trusts the identity headers
// the gateway sets (X-User-Id, X-User-Role), so bind it where only the gateway can reach
// it; with --jwks-url and --audience it instead requires the gateway's signed
// X-Auth-Assertion on every request and takes the caller from it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "upstream-demo:", err)
		stop()
		os.Exit(1)
	}
}
