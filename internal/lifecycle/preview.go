package lifecycle

// Previews (dry runs) report what a policy would do before anything is
// done: the actions of Evaluate, how many of each type, and how much
// storage expiring the images would give back. Summarize is as pure as
// Evaluate: the caller reads the manifests and says which blobs each image
// references.

// Blob is stored content an image references: its config or a layer.
type Blob struct {
	Digest string
	Size   int64
}

// Summary sums up a policy's actions on a repository.
type Summary struct {
	// Expiring and Transitioning count the images of each action type.
	Expiring, Transitioning int
	// BytesFreed is the total size of the distinct blobs that only
	// expiring images reference: what deleting them gives back once
	// garbage collection has run.
	BytesFreed int64
}

// Summarize counts the actions by type and computes BytesFreed with
// deduplication in mind. blobs maps the digest of every image of the
// repository (expiring or not: the images that stay are what keeps shared
// blobs alive) to the blobs its manifest references. A blob counts once,
// however many expiring images share it, and not at all when an image
// that stays references it; images moved to archive stay (their content
// is still stored). An image absent from blobs references nothing. When
// manifests disagree on a blob's size, the largest counts.
//
// The scope is the images passed: a blob that another repository also
// uses stays in storage, which Summarize cannot know.
func Summarize(actions []Action, blobs map[string][]Blob) Summary {
	var s Summary
	expired := make(map[string]bool, len(actions))
	for _, a := range actions {
		switch a.Type {
		case ActionExpire:
			if !expired[a.Digest] {
				expired[a.Digest] = true
				s.Expiring++
			}
		case ActionTransition:
			s.Transitioning++
		}
	}
	if len(expired) == 0 {
		return s
	}
	kept := make(map[string]bool)
	for d, bs := range blobs {
		if expired[d] {
			continue
		}
		for _, b := range bs {
			kept[b.Digest] = true
		}
	}
	freed := make(map[string]int64)
	for d := range expired {
		for _, b := range blobs[d] {
			if kept[b.Digest] {
				continue
			}
			if cur, ok := freed[b.Digest]; !ok || b.Size > cur {
				freed[b.Digest] = b.Size
			}
		}
	}
	for _, size := range freed {
		if size > 0 {
			s.BytesFreed += size
		}
	}
	return s
}
