package handlers

import (
	"context"
	"strings"

	"github.com/dccfhir/dccfhir/fhir"
	"github.com/dccfhir/dccfhir/service"
)

// The scope checks of the operations that reach no stored data through
// the service on their own (the service checks everything that does:
// interactions, batch and transaction entries, the stored ValueSet of
// ValueSet/{id}/$expand, the stored resource of an instance $validate).

// letterNames spells the SMART letters for a refusal's message.
var letterNames = map[byte]string{'c': "create", 'r': "read", 'u': "update", 'd': "delete", 's': "search"}

// allowAny passes when the caller's access grants one of letters on typ,
// whatever its extent (a patient/ or search-restricted grant counts: these
// operations return no stored resource of typ), else answers a 403 naming
// the scopes that would do. No access in ctx: unrestricted.
func allowAny(ctx context.Context, op, typ, letters string) error {
	a := service.AccessFrom(ctx)
	if a == nil {
		return nil
	}
	for i := 0; i < len(letters); i++ {
		if _, err := a.Grant(letters[i], typ); err == nil {
			return nil
		}
	}
	names := make([]string, len(letters))
	for i := 0; i < len(letters); i++ {
		names[i] = letterNames[letters[i]]
	}
	return fhir.Errorf(403, "forbidden", "", "%s on %s needs a scope granting %s on %s, such as user/%s.%c",
		op, typ, strings.Join(names, " or "), typ, typ, letters[0])
}
