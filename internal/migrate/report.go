package migrate

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Kinds of items the report counts, in the order they are copied.
const (
	KindAccounts          = "accounts"
	KindUsers             = "users"
	KindUserPolicies      = "user_policies"
	KindAccessKeys        = "access_keys"
	KindRegistryPolicies  = "registry_policies"
	KindAccountSettings   = "account_settings"
	KindCreationTemplates = "creation_templates"
	KindRepositories      = "repositories"
	KindBlobs             = "blobs"
	KindBlobLinks         = "blob_links"
	KindManifests         = "manifests"
	KindPullTimes         = "pull_times"
	KindImageStates       = "image_states"
	KindTags              = "tags"
	KindTagEvents         = "tag_events"
	KindLifecyclePolicies = "lifecycle_policies"
	KindPlatformGuards    = "platform_guards"
	KindResourceTags      = "resource_tags"
	KindSuppressions      = "suppressions"
	KindPullExclusions    = "pull_time_exclusions"
)

// kinds lists every kind in report order.
var kinds = []string{
	KindAccounts, KindUsers, KindUserPolicies, KindAccessKeys, KindRegistryPolicies, KindAccountSettings,
	KindPullExclusions, KindCreationTemplates, KindRepositories, KindBlobs, KindBlobLinks, KindManifests, KindPullTimes,
	KindImageStates, KindTags, KindTagEvents, KindLifecyclePolicies, KindPlatformGuards, KindResourceTags, KindSuppressions,
}

// Count is what happened to the items of one kind.
type Count struct {
	// Copied items were written to the destination (new or changed).
	Copied int64 `json:"copied"`
	// Skipped items were on the destination already, identical.
	Skipped int64 `json:"skipped"`
	// Removed items were on the destination but not in the source, and
	// deleted to mirror it (IAM, policies and resource tags only: see
	// Report.Extra for what is reported instead).
	Removed int64 `json:"removed,omitempty"`
}

// Report is the outcome of a migration. Its counters are safe for
// concurrent use while the migration runs.
type Report struct {
	mu sync.Mutex

	Counts map[string]*Count `json:"counts"`
	// BytesCopied is the blob content written to the destination.
	BytesCopied int64 `json:"bytesCopied"`
	// BlobsVerified and BytesVerified count the blobs read back from the
	// destination and found to hash to their digest (copied ones, and
	// those found there already unless Options.TrustExisting).
	BlobsVerified int64 `json:"blobsVerified"`
	BytesVerified int64 `json:"bytesVerified"`
	// ManifestsVerified counts manifests read back from the destination
	// byte-identical to the source and hashing to their digest.
	ManifestsVerified int64 `json:"manifestsVerified"`
	// BlobsReplaced counts blobs found on the destination with the wrong
	// size or content, deleted and copied again.
	BlobsReplaced int64 `json:"blobsReplaced,omitempty"`
	// StaleUploads counts upload data left on the destination by an
	// interrupted run, removed at the start.
	StaleUploads int64 `json:"staleUploads,omitempty"`
	// Extra lists what the destination holds that the source does not
	// (repositories, manifests, tags changed there after a previous run);
	// it is reported, never deleted.
	Extra []string `json:"extra,omitempty"`
	// Failures lists source items that could not be copied (a blob missing
	// from the source store or not matching its digest, and what depends
	// on it). The migration continues past them and then fails.
	Failures []string `json:"failures,omitempty"`

	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
}

func newReport(now time.Time) *Report {
	r := &Report{Counts: map[string]*Count{}, Started: now}
	for _, k := range kinds {
		r.Counts[k] = &Count{}
	}
	return r
}

func (r *Report) copied(kind string, n int64) {
	r.mu.Lock()
	r.Counts[kind].Copied += n
	r.mu.Unlock()
}

func (r *Report) skipped(kind string, n int64) {
	r.mu.Lock()
	r.Counts[kind].Skipped += n
	r.mu.Unlock()
}

func (r *Report) removed(kind string, n int64) {
	r.mu.Lock()
	r.Counts[kind].Removed += n
	r.mu.Unlock()
}

func (r *Report) add(f func(r *Report)) {
	r.mu.Lock()
	f(r)
	r.mu.Unlock()
}

func (r *Report) extra(format string, args ...any) {
	r.add(func(r *Report) { r.Extra = append(r.Extra, fmt.Sprintf(format, args...)) })
}

func (r *Report) fail(format string, args ...any) {
	r.add(func(r *Report) { r.Failures = append(r.Failures, fmt.Sprintf(format, args...)) })
}

// Count returns the count of a kind (a copy).
func (r *Report) Count(kind string) Count {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.Counts[kind]; c != nil {
		return *c
	}
	return Count{}
}

// Throughput is the blob bytes copied per second of the run.
func (r *Report) Throughput() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.BytesCopied) / r.Duration.Seconds()
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := fmt.Fprintf(w, "%-20s %10s %10s %10s\n", "kind", "copied", "present", "removed"); err != nil {
		return err
	}
	for _, k := range kinds {
		c := r.Counts[k]
		fmt.Fprintf(w, "%-20s %10d %10d %10d\n", k, c.Copied, c.Skipped, c.Removed)
	}
	fmt.Fprintf(w, "blob bytes copied:  %d (%s)\n", r.BytesCopied, humanBytes(r.BytesCopied))
	fmt.Fprintf(w, "verified:           %d blobs (%s) read back and hashed, %d manifests byte-identical\n",
		r.BlobsVerified, humanBytes(r.BytesVerified), r.ManifestsVerified)
	if r.BlobsReplaced > 0 {
		fmt.Fprintf(w, "replaced:           %d blobs found damaged on the destination\n", r.BlobsReplaced)
	}
	if r.StaleUploads > 0 {
		fmt.Fprintf(w, "stale uploads:      %d left by an interrupted run, removed\n", r.StaleUploads)
	}
	secs := r.Duration.Seconds()
	if secs > 0 {
		fmt.Fprintf(w, "duration:           %s (%s/s of blob data)\n", r.Duration.Round(time.Millisecond), humanBytes(int64(r.Throughput())))
	}
	for _, e := range r.Extra {
		fmt.Fprintf(w, "extra on destination (kept): %s\n", e)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
