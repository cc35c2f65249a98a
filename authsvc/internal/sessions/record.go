package sessions

import (
	"strconv"
	"time"
)

// Hash fields of a session record. Their order in recordFields is the order of every
// HMGET and of the fields in every script reply (luaFields lists the same names).
const (
	fUserID    = "uid"
	fRole      = "role"
	fJTI       = "rjti"
	fPrevJTI   = "prjti"
	fRotatedAt = "rot"
	fCreatedAt = "cat"
	fLastSeen  = "seen"
	fExpiresAt = "exp"
	fIP        = "ip"
	fUserAgent = "ua"
	fEmail     = "email"
	fName      = "name"

	numFields = 12
)

func recordFields() []string {
	return []string{fUserID, fRole, fJTI, fPrevJTI, fRotatedAt, fCreatedAt, fLastSeen, fExpiresAt, fIP, fUserAgent, fEmail, fName}
}

// encode returns the record's field/value pairs for HSET.
func encode(s Session) []any {
	return []any{
		fUserID, s.UserID,
		fRole, s.Role,
		fJTI, s.RefreshJTI,
		fPrevJTI, s.PrevRefreshJTI,
		fRotatedAt, timeToMS(s.RotatedAt),
		fCreatedAt, timeToMS(s.CreatedAt),
		fLastSeen, timeToMS(s.LastSeen),
		fExpiresAt, timeToMS(s.ExpiresAt),
		fIP, s.IP,
		fUserAgent, s.UserAgent,
		fEmail, s.Email,
		fName, s.Name,
	}
}

// decode builds a Session from field values in recordFields order (an HMGET reply or
// a slice of a script reply). ok is false when the record does not exist. Unparsable
// times decode as zero, which makes the record fail the live check (fail closed).
func decode(sessionID string, vals []any) (s Session, ok bool) {
	if len(vals) != numFields || vals[0] == nil {
		return Session{}, false
	}
	str := func(i int) string {
		v, _ := vals[i].(string) // nil (missing field) reads as ""
		return v
	}
	return Session{
		ID:             sessionID,
		UserID:         str(0),
		Role:           str(1),
		RefreshJTI:     str(2),
		PrevRefreshJTI: str(3),
		RotatedAt:      msToTime(str(4)),
		CreatedAt:      msToTime(str(5)),
		LastSeen:       msToTime(str(6)),
		ExpiresAt:      msToTime(str(7)),
		IP:             str(8),
		UserAgent:      str(9),
		Email:          str(10),
		Name:           str(11),
	}, true
}

// live reports whether s is within its absolute and idle limits at now. The scripts
// apply the same rule (luaLive).
func (st *Store) live(s Session, now time.Time) bool {
	if s.ExpiresAt.IsZero() || s.LastSeen.IsZero() {
		return false
	}
	n := now.UnixMilli()
	return n < s.ExpiresAt.UnixMilli() && n-s.LastSeen.UnixMilli() < st.cfg.IdleTTL.Milliseconds()
}

// timeToMS encodes t as unix milliseconds; the zero time is "0".
func timeToMS(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// msToTime decodes unix milliseconds; "0" and garbage decode as the zero time.
func msToTime(v string) time.Time {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// truncMS rounds t down to what survives a round trip through the store.
func truncMS(t time.Time) time.Time {
	return msToTime(timeToMS(t))
}
