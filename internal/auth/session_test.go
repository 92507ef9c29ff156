package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

func TestAuthSessions(t *testing.T) {
	ctx := context.Background()
	e := enginetest.Start(t)
	a, err := New(ctx, Config{Enabled: true, BootstrapToken: "bootstrap-token-0123456789", SessionTTL: time.Hour}, e, nil)
	require.NoError(t, err)
	defer a.Close()
	token, info, err := a.Keys.Create(ctx, "viewer", []Scope{Plain("dashboard")})
	require.NoError(t, err)

	v, p, exp, err := a.NewSession(token)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), exp, time.Minute)
	require.True(t, p.Allows(Plain("dashboard")))
	got, err := a.VerifySession(v)
	require.NoError(t, err)
	require.Equal(t, p.Name, got.Name)
	require.True(t, got.Allows(Plain("dashboard")))
	require.False(t, got.Allows(Plain("jobs")))

	// The bootstrap token makes an admin session.
	bv, _, _, err := a.NewSession("bootstrap-token-0123456789")
	require.NoError(t, err)
	bp, err := a.VerifySession(bv)
	require.NoError(t, err)
	require.True(t, bp.Allows(Admin))

	// Refused: a bad token, a tampered or foreign session, an expired one,
	// and one of a revoked key.
	_, _, _, err = a.NewSession("psk_aaaaaaaaaaaa_nope")
	require.ErrorIs(t, err, ErrUnauthenticated)
	payload, mac, _ := strings.Cut(v, ".")
	// A MAC with its first character changed (each of its six bits is
	// the MAC's; its last characters could already be the ones put there).
	flipped := "A" + mac[1:]
	if mac[0] == 'A' {
		flipped = "B" + mac[1:]
	}
	for _, bad := range []string{"", "x", payload + ".", payload + "." + flipped, "A" + v} {
		_, err := a.VerifySession(bad)
		require.ErrorIs(t, err, ErrUnauthenticated, bad)
	}
	other, err := NewSessions(make([]byte, 32), time.Hour)
	require.NoError(t, err)
	forged := other.sign("v1|bootstrap|" + "9999999999" + "|" + binding(a.Bootstrap))
	_, err = a.VerifySession(forged)
	require.ErrorIs(t, err, ErrUnauthenticated)
	a.Sessions.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	_, err = a.VerifySession(v)
	require.ErrorContains(t, err, "expired")
	a.Sessions.now = time.Now
	require.NoError(t, a.Keys.Revoke(ctx, info.ID))
	_, err = a.VerifySession(v)
	require.ErrorContains(t, err, "revoked")
}
