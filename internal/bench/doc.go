// Package bench is the logic of wharf-bench, a load generator for any OCI
// distribution registry. It speaks the distribution API itself over plain
// net/http (no registry client library) so that the same client code, with
// the same costs, measures every registry it is pointed at.
//
// Scenarios (see Run): blob-push, blob-pull, manifest-get, pull-storm,
// small-push and tags-list. Each one prints one JSON line (Result) and one
// human-readable line. Compare turns JSON lines from several runs against two
// registries into a table of medians, ratios and targets.
package bench
