package main

import (
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/argon2"
)

// rate is operations per second measured in-process with testing.Benchmark, on one
// goroutine (serial) and on GOMAXPROCS goroutines (parallel).
type rate struct {
	serial, parallel float64
}

// opsPerSec is 1/ns-per-op of a benchmark result.
func opsPerSec(r testing.BenchmarkResult) float64 {
	if r.N == 0 || r.T <= 0 {
		return 0
	}
	return float64(r.N) / r.T.Seconds()
}

// signingRate measures signing a JWS input of an issued token's size with kp's access key:
// the configured algorithm alone, without anything else a refresh does.
func signingRate(kp keyPair) (rate, error) {
	input := make([]byte, 300) // header.payload of a refresh token is ~300 bytes
	if _, err := rand.Read(input); err != nil {
		return rate{}, err
	}
	if _, err := signJWS(kp.accessSigner, kp.alg, input); err != nil {
		return rate{}, err
	}
	serial := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			_, _ = signJWS(kp.accessSigner, kp.alg, input)
		}
	})
	parallel := testing.Benchmark(func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = signJWS(kp.accessSigner, kp.alg, input)
			}
		})
	})
	return rate{serial: opsPerSec(serial), parallel: opsPerSec(parallel)}, nil
}

// Argon2id parameters of the gateway's password hashes (authsvc/internal/password).
const (
	argonMemoryKiB = 19456
	argonTime      = 2
	argonThreads   = 1
	argonKeyLen    = 32
)

// hashRate measures argon2id with the gateway's parameters: what one login must spend.
func hashRate() rate {
	salt := []byte("0123456789abcdef")
	pw := []byte("bench-password-000")
	serial := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			argon2.IDKey(pw, salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
		}
	})
	parallel := testing.Benchmark(func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				argon2.IDKey(pw, salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
			}
		})
	})
	return rate{serial: opsPerSec(serial), parallel: opsPerSec(parallel)}
}
