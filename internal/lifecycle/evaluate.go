package lifecycle

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

const day = 24 * time.Hour

// node is one distinct image (entries with the same digest merged).
type node struct {
	img           *Image   // the first entry with this digest (read only)
	subjectDigest string   // the first non-empty Subject among the entries
	tags          []string // non-empty tags, deduplicated; may alias img.Tags
	parents       []int    // present parent indexes
	subject       int      // present subject, -1 if none
	// dangling: the image names a subject that is not in the input.
	dangling bool
	// follower: the image is never considered by the rules; it takes the
	// action of its index (untagged children) or subject (referrers).
	follower bool
	class    string // ClassStandard, ClassArchive or "" (unknown)
	// pushed is pushed_at_time, or last_activated_at when the image was
	// restored from archive since: the reference for ordering and for
	// sinceImagePushed.
	pushed time.Time

	rule  decision // what the rules decided, before dependencies
	final decision
	state uint8 // 0 unresolved, 1 resolving, 2 resolved
}

type decision struct {
	typ      string // "", ActionExpire or ActionTransition
	priority int
}

// Evaluate applies policy p to the images of one repository at time now
// and returns what to do, ordered by rule priority, then digest. It is a
// pure function: the same inputs give the same output. The package
// documentation describes the semantics. A nil policy does nothing. p
// should come from Parse; Evaluate does not validate it.
func Evaluate(p *Policy, images []Image, now time.Time) []Action {
	if p == nil || len(p.Rules) == 0 || len(images) == 0 {
		return nil
	}
	nodes := buildNodes(images)

	eligible := make([]int, 0, len(nodes))
	for i := range nodes {
		if !nodes[i].follower {
			eligible = append(eligible, i)
		}
	}

	order := make([]int, len(p.Rules))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(p.Rules[a].RulePriority, p.Rules[b].RulePriority)
	})

	// seen: the image matched the selection of a higher-priority rule.
	// "An image that matches the tagging requirements of a rule cannot be
	// expired or archived by a rule with a lower priority."
	seen := make([]bool, len(nodes))
	sel := make([]int, 0, len(eligible))
	for _, ri := range order {
		r := &p.Rules[ri]
		s := &r.Selection
		class := s.StorageClass
		if class == "" {
			class = ClassStandard
		}
		filter := newTagFilter(s)
		sel = sel[:0]
		for _, i := range eligible {
			n := &nodes[i]
			if n.class != class {
				continue
			}
			switch s.TagStatus {
			case TagStatusUntagged:
				if len(n.tags) != 0 {
					continue
				}
			case TagStatusTagged:
				if len(n.tags) == 0 || !filter.match(n.tags) {
					continue
				}
			case TagStatusAny:
			default:
				continue
			}
			sel = append(sel, i)
		}

		typ := ActionExpire
		if r.Action.Type == TypeTransition {
			typ = ActionTransition
		}
		// "Rules can never mark images that are marked by higher priority
		// rules, but can still identify them as if they haven't been
		// expired or archived": counting includes seen images, marking
		// skips them.
		mark := func(i int) {
			if !seen[i] && (typ == ActionExpire || nodes[i].class == ClassStandard) {
				nodes[i].rule = decision{typ, r.RulePriority}
			}
		}
		switch s.CountType {
		case CountImageCountMoreThan:
			if len(sel) > s.CountNumber {
				slices.SortFunc(sel, func(a, b int) int { return youngerFirst(&nodes[a], &nodes[b]) })
				for _, i := range sel[s.CountNumber:] {
					mark(i)
				}
			}
		case CountSinceImagePushed, CountSinceImagePulled, CountSinceImageTransitioned, CountSinceImageTagged:
			cutoff := now.Add(-time.Duration(s.CountNumber) * day)
			for _, i := range sel {
				if t, ok := referenceTime(&nodes[i], s.CountType); ok && t.Before(cutoff) {
					mark(i)
				}
			}
		}
		for _, i := range sel {
			seen[i] = true
		}
	}

	type result struct {
		priority int
		node     int
	}
	var results []result
	for i := range nodes {
		if d := resolve(nodes, i); d.typ != "" {
			results = append(results, result{d.priority, i})
		}
	}
	if len(results) == 0 {
		return nil
	}
	slices.SortFunc(results, func(a, b result) int {
		if c := cmp.Compare(a.priority, b.priority); c != 0 {
			return c
		}
		return strings.Compare(nodes[a.node].img.Digest, nodes[b.node].img.Digest)
	})
	total := 0
	for _, r := range results {
		total += len(nodes[r.node].tags)
	}
	tagPool := make([]string, 0, total) // one allocation for all the copies
	out := make([]Action, len(results))
	for k, r := range results {
		n := &nodes[r.node]
		var tags []string
		if len(n.tags) > 0 {
			start := len(tagPool)
			tagPool = append(tagPool, n.tags...)
			tags = tagPool[start:len(tagPool):len(tagPool)]
		}
		out[k] = Action{
			Digest:       n.img.Digest,
			Tags:         tags,
			RulePriority: n.final.priority,
			Type:         n.final.typ,
		}
		if n.final.typ == ActionTransition {
			out[k].TargetStorageClass = StorageClassArchive
		}
	}
	return out
}

// youngerFirst orders by push time, youngest first ("images are sorted
// from youngest to oldest based on pushed_at_time"); equal times are
// ordered by digest so that the result is deterministic.
func youngerFirst(a, b *node) int {
	if c := b.pushed.Compare(a.pushed); c != 0 {
		return c
	}
	return strings.Compare(a.img.Digest, b.img.Digest)
}

// referenceTime is the time a since* count type measures the image's age
// from; ok is false when it is unknown (an archived image without a
// transition time is never old enough).
func referenceTime(n *node, countType string) (time.Time, bool) {
	im := n.img
	switch countType {
	case CountSinceImagePushed:
		return n.pushed, !n.pushed.IsZero()
	case CountSinceImagePulled:
		// last_recorded_pulltime; pushed_at_time if never pulled;
		// last_activated_at if restored and not pulled since.
		t := latest(im.LastPulledAt, im.PushedAt, im.LastActivatedAt)
		return t, !t.IsZero()
	case CountSinceImageTransitioned:
		return im.TransitionedAt, !im.TransitionedAt.IsZero()
	case CountSinceImageTagged:
		t := latest(im.LastTaggedAt, im.PushedAt, im.LastActivatedAt)
		return t, !t.IsZero()
	}
	return time.Time{}, false
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// resolve gives image i's final action: the rules' decision for images
// the rules consider, the decision of its index or subject for followers,
// and in both cases nothing while an index that references the image
// stays. Cycles (impossible with real digests) resolve to nothing.
func resolve(nodes []node, i int) decision {
	n := &nodes[i]
	switch n.state {
	case 2:
		return n.final
	case 1:
		return decision{}
	}
	n.state = 1
	d := decide(nodes, n)
	if d.typ == ActionTransition && n.class != ClassStandard {
		d = decision{} // only standard images move to archive
	}
	n.final, n.state = d, 2
	return d
}

func decide(nodes []node, n *node) decision {
	if n.dangling {
		return decision{}
	}
	var d decision
	if n.follower {
		// Follow every anchor: the subject (referrers) and the indexes
		// that list the image. Archive wins over delete: an image still
		// listed by an archived index is archived with it.
		anchors := n.parents
		if n.subject >= 0 {
			anchors = append(slices.Clip(anchors), n.subject)
		}
		for k, a := range anchors {
			ad := resolve(nodes, a)
			if ad.typ == "" {
				return decision{}
			}
			if k == 0 || ad.typ == ActionTransition && d.typ == ActionExpire ||
				ad.typ == d.typ && ad.priority < d.priority {
				d = ad
			}
		}
		return d
	}
	d = n.rule
	if d.typ == "" {
		return d
	}
	// "If an image is referenced by a manifest list, it cannot be expired
	// or archived without the manifest list being deleted or archived
	// first."
	for _, a := range n.parents {
		ad := resolve(nodes, a)
		if ad.typ == "" || d.typ == ActionExpire && ad.typ == ActionTransition {
			return decision{}
		}
	}
	return d
}

// buildNodes merges entries by digest and links children to their indexes
// and referrers to their subjects.
func buildNodes(images []Image) []node {
	byDigest := make(map[string]int, len(images))
	nodes := make([]node, 0, len(images))
	parentDigests := make([][]string, 0, len(images))
	for k := range images {
		im := &images[k]
		if im.Digest == "" {
			continue
		}
		i, ok := byDigest[im.Digest]
		if !ok {
			i = len(nodes)
			byDigest[im.Digest] = i
			nodes = append(nodes, node{img: im, subject: -1, tags: cleanTags(im.Tags)})
			parentDigests = append(parentDigests, nil)
			if im.Subject != "" {
				nodes[i].subjectDigest = im.Subject
			}
		} else {
			n := &nodes[i]
			if n.subjectDigest == "" {
				n.subjectDigest = im.Subject
			}
			for _, t := range im.Tags {
				if t != "" && !slices.Contains(n.tags, t) {
					n.tags = append(slices.Clip(n.tags), t)
				}
			}
		}
		if im.ParentIndex != "" && im.ParentIndex != im.Digest && !slices.Contains(parentDigests[i], im.ParentIndex) {
			parentDigests[i] = append(parentDigests[i], im.ParentIndex)
		}
	}
	for i := range nodes {
		n := &nodes[i]
		for _, pd := range parentDigests[i] {
			if p, ok := byDigest[pd]; ok {
				n.parents = append(n.parents, p)
			}
		}
		hasSubject := n.subjectDigest != "" && n.subjectDigest != n.img.Digest
		if hasSubject {
			if j, ok := byDigest[n.subjectDigest]; ok {
				n.subject = j
			} else {
				n.dangling = true
			}
		}
		n.follower = hasSubject || len(n.parents) > 0 && len(n.tags) == 0
		switch {
		case n.img.StorageClass == "" || strings.EqualFold(n.img.StorageClass, StorageClassStandard):
			n.class = ClassStandard
		case strings.EqualFold(n.img.StorageClass, StorageClassArchive):
			n.class = ClassArchive
		}
		n.pushed = latest(n.img.PushedAt, n.img.LastActivatedAt)
	}
	return nodes
}

// cleanTags returns tags without empty and repeated entries, reusing the
// caller's slice (never written to) when there are none.
func cleanTags(tags []string) []string {
	for k, t := range tags {
		if t == "" || slices.Contains(tags[:k], t) {
			var out []string
			for _, t := range tags {
				if t != "" && !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
			return out
		}
	}
	return slices.Clip(tags)
}
