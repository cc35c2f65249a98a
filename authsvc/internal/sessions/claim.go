package sessions

import (
	"context"
	"time"
)

// Claim records that userID's single-use code name (a hash, never the code) is being
// used, once: it reports true to the first caller and false to every other until ttl
// passes or Release. The users store's conditional update makes a code single-use on
// MongoDB; the claim makes it so on any backend (FerretDB applies concurrent updates of
// one document without re-checking the filter). Key: <prefix>claim:{<userID>}:<name>.
//
// Errors: ErrInvalid (malformed user id or name, ttl not positive), ErrUnavailable.
func (st *Store) Claim(ctx context.Context, userID, name string, ttl time.Duration) (bool, error) {
	const op = "claim"
	if !validID(userID) || !validID(name) {
		return false, invalid(op, "malformed user id or name")
	}
	if ttl <= 0 {
		return false, invalid(op, "ttl must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	ok, err := st.rdb.SetNX(ctx, st.claimKey(userID, name), 1, ttl).Result()
	if err != nil {
		return false, unavailable(op, err)
	}
	return ok, nil
}

// Release drops a claim, so that the code can be used again (its use failed before it
// changed anything). Errors: ErrInvalid, ErrUnavailable.
func (st *Store) Release(ctx context.Context, userID, name string) error {
	const op = "release"
	if !validID(userID) || !validID(name) {
		return invalid(op, "malformed user id or name")
	}
	ctx, cancel := context.WithTimeout(ctx, st.cfg.Timeout)
	defer cancel()
	if err := st.rdb.Del(ctx, st.claimKey(userID, name)).Err(); err != nil {
		return unavailable(op, err)
	}
	return nil
}

func (st *Store) claimKey(userID, name string) string {
	return st.cfg.Prefix + "claim:{" + userID + "}:" + name
}
