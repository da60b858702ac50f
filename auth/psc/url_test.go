package psc

import "testing"

func TestCheckProviderURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet", true},
		{"https://auth.bas.psc.esante.gouv.fr:443/auth/realms/esante-wallet/protocol/openid-connect/token", true},
		{"http://127.0.0.1:8080/auth", true},
		{"http://127.5.0.1/auth", true},
		{"http://[::1]:9000/auth", true},
		{"http://localhost:8080/auth", false},
		{"http://auth.esw.esante.gouv.fr/auth", false},
		{"http://10.0.0.1/auth", false},
		{"ftp://127.0.0.1/auth", false},
		{"https://user:pass@auth.esw.esante.gouv.fr/", false},
		{"https://auth.esw.esante.gouv.fr/#frag", false},
		{"/auth/realms/esante-wallet", false},
		{"https:opaque", false},
		{"", false},
	} {
		if err := checkProviderURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}
