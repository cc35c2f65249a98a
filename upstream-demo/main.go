// Command upstream-demo is a sample backend behind authgate: GET /api/users (admin) and
// GET /api/users/me, reading users from the same MongoDB as the gateway, and GET
// /api/whoami, which echoes the identity headers without any database work (the
// benchmark suite's upstream). It trusts only
// the identity headers the gateway sets (X-User-Id, X-User-Role) and never returns a
// password hash. Bind it where only the gateway can reach it.
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
