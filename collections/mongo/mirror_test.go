package mongo_test

import (
	"testing"

	"github.com/taxiid/taxiid/collections/mirror"
	"github.com/taxiid/taxiid/collections/mirror/mirrortest"
)

func TestMirrorStore(t *testing.T) {
	mirrortest.RunTests(t, func(t *testing.T) mirror.Store {
		s, _ := open(t)
		return s
	})
}
