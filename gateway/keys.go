package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/authgate/authgate/authsvc"
)

type keysCmd struct {
	Generate keysGenerateCmd `cmd:"" help:"Write a new key pair as PEM files (PKCS#8 private, PKIX public) and print it as environment lines with its kid. Existing files are never overwritten."`
}

type keysGenerateCmd struct {
	Alg  string `default:"RS256" enum:"RS256,ES256,EdDSA" help:"Algorithm: RS256 (RSA 2048), ES256 (ECDSA P-256) or EdDSA (Ed25519)."`
	Kind string `default:"access" enum:"access,refresh,assertion" help:"What the key signs: access, refresh or assertion."`
	Out  string `default:"." type:"path" placeholder:"DIR" help:"Directory of the files <kind>_token_private.pem and <kind>_token_public.pem (created if missing)."`
}

// Run writes the pair and prints, for the kind's configuration keys, the variables that
// set them (the seed's ACCESS_TOKEN_PRIVATE_KEY style too, for access and refresh keys)
// with base64-encoded PEM values, after comment lines naming the kid and the files, so
// the output can go into a .env file as it is.
func (c *keysGenerateCmd) Run(e *env) error {
	priv := filepath.Join(c.Out, c.Kind+"_token_private.pem")
	pub := filepath.Join(c.Out, c.Kind+"_token_public.pem")
	for _, p := range []string{priv, pub} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists; refusing to overwrite it", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("keys: %w", err)
		}
	}
	kp, err := authsvc.GenerateKeyPair(c.Alg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Out, 0o700); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := writeNew(priv, kp.PrivatePEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(pub, kp.PublicPEM, 0o644); err != nil {
		_ = os.Remove(priv) // never leave half a pair
		return err
	}
	b64 := base64.StdEncoding.EncodeToString
	fmt.Fprintf(e.stdout, "# authgate %s key (%s)\n# kid: %s\n# private key: %s (mode 0600, keep it secret)\n# public key: %s\n",
		c.Kind, kp.Alg, kp.KeyID, priv, pub)
	kind := strings.ToUpper(c.Kind)
	if c.Kind != "assertion" { // the seed's own variable names
		fmt.Fprintf(e.stdout, "%s_TOKEN_PRIVATE_KEY=%s\n%s_TOKEN_PUBLIC_KEY=%s\n", kind, b64(kp.PrivatePEM), kind, b64(kp.PublicPEM))
	}
	fmt.Fprintf(e.stdout, "AUTHGATE_TOKENS__%s_PRIVATE_KEY=%s\nAUTHGATE_TOKENS__%s_PUBLIC_KEY=%s\n", kind, b64(kp.PrivatePEM), kind, b64(kp.PublicPEM))
	return nil
}

// writeNew creates path with data and perm; an existing file is an error and stays as it
// was.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(filepath.Clean(path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	return nil
}
