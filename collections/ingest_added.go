package collections

import "slices"

// OnAdded registers f to be called after each batch of a push that added
// at least one version to a collection has been stored (and is visible),
// with the collection's API root and id. f is called on the pushing
// goroutine and must return quickly; several may be registered.
func (in *Ingester) OnAdded(f func(apiRoot, collection string)) {
	for {
		old := in.added.Load()
		var fs []func(apiRoot, collection string)
		if old != nil {
			fs = slices.Clone(*old)
		}
		fs = append(fs, f)
		if in.added.CompareAndSwap(old, &fs) {
			return
		}
	}
}

// tellAdded calls the OnAdded functions when results added a version.
func (in *Ingester) tellAdded(c Collection, results []AddResult) {
	fs := in.added.Load()
	if fs == nil || !slices.ContainsFunc(results, func(r AddResult) bool { return r.Outcome == Added }) {
		return
	}
	for _, f := range *fs {
		f(c.APIRoot, c.ID)
	}
}
