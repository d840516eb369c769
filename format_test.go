package secretcache

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// keyHook is a hook that keeps key material in a field.
type keyHook struct {
	HookFuncs
	key string
}

func TestFormatHidesClientAndHook(t *testing.T) {
	const marker = "KEY-MATERIAL-3c9a"
	hook := &keyHook{key: marker}
	cfg := Config{RefreshInterval: time.Minute, Hook: hook}
	c, _ := newTestCache(t, &credentialClient{fakeClient: newFakeClient(), secretKey: marker}, cfg)

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		for name, value := range map[string]any{"cache": c, "config": cfg, "config pointer": &cfg} {
			out := fmt.Sprintf(verb, value)
			if strings.Contains(out, marker) {
				t.Errorf("%s formatted with %s contains the key material: %s", name, verb, out)
			}
		}
	}
	if got := c.String(); !strings.Contains(got, "RefreshInterval: 1m0s") || !strings.Contains(got, "*secretcache.keyHook") {
		t.Errorf("String() = %q, want the refresh interval and the hook's type", got)
	}
	var nilCache *SecretCache
	if got := fmt.Sprint(nilCache); got != "secretcache.SecretCache(nil)" {
		t.Errorf("nil cache prints %q", got)
	}
}

// credentialClient is a client that holds a credential in a field.
type credentialClient struct {
	*fakeClient
	secretKey string
}
