// Package lifecycle is the pure core of ECR lifecycle policies: Parse
// reads and validates a policy document, Evaluate decides which images of
// a repository a policy expires or moves to archive storage. No I/O, no
// clock, no storage: callers bring the document, the images and the time.
//
// The behaviour follows Amazon ECR's user guide: "Automate the cleanup of
// images by using lifecycle policies" (LifecyclePolicies.html, its
// "Lifecycle policy evaluation rules"), "Lifecycle policy properties"
// (lifecycle_policy_parameters.html), "Examples of lifecycle policies"
// (lifecycle_policy_examples.html) and "Archiving an image"
// (archive-image.html). The tests replay every example policy of the
// examples page with the outcomes it states.
//
// # Documents
//
//	{"rules": [{"rulePriority": 1, "description": "...",
//	            "selection": {"tagStatus": "tagged", "tagPatternList": ["prod*"],
//	                          "storageClass": "standard",
//	                          "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 14},
//	            "action": {"type": "expire"}}]}
//
// Parse accepts exactly these fields, case-sensitively, each at most
// once, and never null (ECR refuses null values: "instance type (null)
// does not match any allowed primitive type"). Errors are *Error values
// reading "Lifecycle policy validation failure: <path>: <what is wrong>",
// the text ECR puts inside its InvalidParameterException. Checks, with
// their source (P = properties page, R = evaluation rules, E = examples
// page, A = archiving page, Q = service quotas):
//
//   - At most 30,720 characters (Q: "Lifecycle policy length"); at least one
//     rule.
//   - rulePriority: required, a positive integer, unique; values need not
//     be sequential (P).
//   - tagStatus: tagged, untagged or any (P). tagged requires
//     tagPatternList or tagPrefixList; untagged and any forbid both (P, R:
//     "may only be used if the tagStatus is tagged"). A rule may not have
//     both lists (R). Lists are non-empty, entries non-empty; a pattern has
//     at most four '*' (P: "maximum limit of four wildcards per string").
//   - storageClass: standard or archive, standard when omitted; archive is
//     required by, and only allowed with, sinceImageTransitioned (P).
//   - countType: imageCountMoreThan, sinceImagePushed, sinceImagePulled,
//     sinceImageTransitioned (P), and sinceImageTagged (Wharf). countUnit
//     "days" is required by the since* types and an error with
//     imageCountMoreThan (P: "an error will occur if you specify a count
//     unit when countType is any other value"). countNumber: positive
//     integer (P: "0 is not an accepted value"); at least 90 for
//     sinceImageTransitioned (A, E: "Images must be in archive storage for
//     a minimum of 90 days before deletion").
//   - action.type: expire or transition; transition requires
//     targetStorageClass "archive", expire forbids it (P). sinceImagePulled
//     only with transition, sinceImageTransitioned only with expire (E:
//     "must be used with the transition action. It cannot be used with the
//     expire action"; "must be used with the expire action and the archive
//     storage class"). imageCountMoreThan, sinceImagePushed and
//     sinceImageTagged go with either (A: archive by push time, by pull
//     time, or "Maximum number of images to keep active").
//   - Across rules, per storage class: a tagStatus "any" rule has the
//     highest rulePriority (P); only one rule selects untagged images (R:
//     "Only one rule selecting a specific storage class is allowed to select
//     untagged images"); no two tagged rules have the same tag list (R:
//     "The set of all rules selecting a specific storage class must contain
//     a unique set of prefixes", read as: the same set of entries, order
//     ignored). The "any rule last" constraint is per storage class because
//     E's "Combining archive and expire rules" example has an "any" rule
//     for standard images at priority 1 and one for archived images at
//     priority 2. Each of the three forbids a rule that could never act.
//
// # Evaluation
//
// Evaluate applies the rules in rulePriority order, lowest first (P).
//
//   - Selection. A rule considers the images of its storage class (STANDARD
//     or empty, or ARCHIVE). untagged: images without tags; any: all;
//     tagged: images with tags where every entry of the list matches at
//     least one of the image's tags (R: "An image is successfully matched if
//     all of the tags in the tagPatternList or tagPrefixList value are
//     matched against any of the image's tags"; P: "If you specify multiple
//     tags, only the images with all specified tags are selected"; E:
//     ["alpha*", "beta*"] selects only images having both kinds of tag).
//     A prefix matches tags starting with it; in a pattern '*' is any run of
//     characters, possibly empty, the rest literal and case-sensitive,
//     anchored at both ends (R: "prod*" matches prod, prod1,
//     production-team1; "*prod*" matches repo-production).
//   - One rule per image. Once a rule has selected an image, lower-priority
//     rules never act on it, even when that rule did not act on it either
//     (R: "An image that matches the tagging requirements of a rule cannot
//     be expired or archived by a rule with a lower priority"; "An image is
//     expired or archived by exactly one or zero rules"). Lower rules still
//     count such images: "Rules can never mark images that are marked by
//     higher priority rules, but can still identify them as if they haven't
//     been expired or archived". E's "Filtering on all images" example B
//     only comes out as documented this way: its rule 3 (any, keep 1) marks
//     image D because E, claimed by rule 2, is counted as the one kept.
//   - imageCountMoreThan: sort the selected images youngest first by push
//     time and mark all past the first countNumber (R). Equal push times
//     are ordered by digest, the smaller digest counting as younger.
//   - since* types mark the selected images whose reference time is more
//     than countNumber×24h before now (exactly N days is not older than N
//     days): sinceImagePushed, push time (R); sinceImagePulled, the last
//     pull, or push time if never pulled, or the restore time if restored
//     and not pulled since (R), computed as the latest of the three;
//     sinceImageTransitioned, the time the image was archived (R:
//     last_archived_at), archived images of unknown archive time never
//     qualify; sinceImageTagged (Wharf), the time a tag was last put on
//     the image, or push time.
//   - "Push time" is the restore time for images restored from archive
//     since their push (R: "If an image was archived and then restored ...
//     the image's last_activated_at is used instead of pushed_at_time"), so
//     a restored image is not archived again at once.
//   - transition applies to STANDARD images only: transition rules select
//     standard images (P: sinceImageTransitioned is the only count type for
//     archive), and an already archived image never gets TRANSITION.
//
// # Indexes and referrers
//
// Image.ParentIndex and Image.Subject link images to the manifest list
// that lists them and to the image an artifact refers to. Links to
// digests absent from the input are ignored, except a missing subject.
//
//   - "If an image is referenced by a manifest list, it cannot be expired
//     or archived without the manifest list being deleted or archived
//     first" (R). An untagged child is not considered by the rules at all
//     (it is neither selected nor counted) and gets its index's action:
//     expired with it, archived with it (Wharf does at once what ECR leaves
//     to later untagged rules). A child with tags of its own is an image in
//     its own right: rules select and count it, but it is acted on only if
//     every index listing it is acted on in the same evaluation (and not
//     expired while an index listing it is only archived).
//   - An image listed by several indexes is passed once per index; it
//     follows its indexes only when all of them go.
//   - "When reference artifacts are present in a repository, Amazon ECR
//     lifecycle policies automatically expire or archive those artifacts
//     ... of the deletion or archival of the subject image" (R). A referrer
//     (Subject set) is never acted on by the rules on its own, tagged or
//     not, does not count, and takes its subject's action, transitively
//     (a signature of an SBOM of a child of an index goes with the index).
//     A referrer whose subject is not in the input is left alone: cleaning
//     dangling referrers is the deletion path's business, and a partial
//     image list must never cause deletions.
//   - An action of a follower carries the rulePriority of the rule that
//     acted on its index or subject.
//
// # Output
//
// One Action per affected image (entries with the same digest are merged),
// type EXPIRE or TRANSITION (target ARCHIVE), ordered by rulePriority then
// digest; the same inputs always give the same output. Tags are copies.
package lifecycle
