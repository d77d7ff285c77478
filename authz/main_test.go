package authz_test

import "github.com/taxiid/taxiid/authz/authztest"

// cheap keeps password hashing fast in tests.
var cheap = authztest.CheapPasswords
