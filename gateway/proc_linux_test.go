package main

import "syscall"

// childAttr makes a test's child process die with the test binary (a crashed or killed
// test must not leave nginx or Caddy listening).
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
