package lifecycle

import "testing"

// Every example policy of ECR's "Examples of lifecycle policies in Amazon
// ECR" page (and the untagged-age example of its earlier edition), with
// the repository contents and outcome the page gives where it gives them,
// and representative images where it gives only the policy.
func TestDocumentedExamples(t *testing.T) {
	type tc struct {
		name   string
		policy string
		images []Image
		want   []string
	}
	archived := func(digest string, pushedDays, archivedDays float64, tags ...string) Image {
		im := img(digest, pushedDays, tags...)
		im.StorageClass = StorageClassArchive
		im.TransitionedAt = ago(archivedDays)
		return im
	}
	pulled := func(im Image, days float64) Image {
		im.LastPulledAt = ago(days)
		return im
	}
	restored := func(im Image, days float64) Image {
		im.LastActivatedAt = ago(days)
		return im
	}

	multiRepo := []Image{
		img("A", 10, "beta-1", "prod-1"),
		img("B", 9, "beta-2", "prod-2"),
		img("C", 8, "beta-3"),
	}
	multiTagRepoA := []Image{
		img("A", 12, "alpha-1"),
		img("B", 11, "beta-1"),
		img("C", 10, "alpha-2", "beta-2"),
		img("D", 4, "alpha-3"),
		img("E", 3, "beta-3"),
		img("F", 2, "alpha-4", "beta-4"),
	}
	multiTagRepoB := []Image{
		img("A", 10, "alpha-1", "beta-1", "gamma-1"),
		img("B", 9, "alpha-2", "beta-2"),
		img("C", 8, "alpha-3", "beta-3", "gamma-2"),
	}

	cases := []tc{
		{
			name: "filtering on image age: prod* older than 14 days",
			policy: `{"rules":[{"rulePriority":1,"description":"Expire images older than 14 days",
				"selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14},
				"action":{"type":"expire"}}]}`,
			images: []Image{
				img("old-prod", 20, "prod-1"),
				img("old-production", 15, "production"),
				img("new-prod", 10, "prod-2"),
				img("old-dev", 30, "dev-1"),
				img("old-untagged", 30),
			},
			want: []string{"old-prod:EXPIRE:1", "old-production:EXPIRE:1"},
		},
		{
			name: "filtering on image age (earlier edition): untagged older than 14 days",
			policy: `{"rules":[{"rulePriority":1,"description":"Expire images older than 14 days",
				"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},
				"action":{"type":"expire"}}]}`,
			images: []Image{
				img("u15", 15),
				img("u13", 13),
				img("t30", 30, "v1"),
			},
			want: []string{"u15:EXPIRE:1"},
		},
		{
			name: "filtering on last pulled time: archive images not pulled in 90 days",
			policy: `{"rules":[{"rulePriority":1,"description":"Archive images not pulled in 90 days",
				"selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90},
				"action":{"type":"transition","targetStorageClass":"archive"}}]}`,
			images: []Image{
				pulled(img("pulled-long-ago", 300, "a"), 100),
				pulled(img("pulled-recently", 300, "b"), 10),
				img("never-pulled-old", 100),
				img("never-pulled-new", 10, "c"),
				// restored 10 days ago, not pulled since: last_activated_at counts
				restored(pulled(img("restored", 300, "d"), 200), 10),
				// already archived: the rule selects standard images only
				archived("archived", 300, 150, "e"),
			},
			want: []string{"never-pulled-old:TRANSITION:1", "pulled-long-ago:TRANSITION:1"},
		},
		{
			name: "filtering on archive transition time: expire images archived for more than 365 days",
			policy: `{"rules":[{"rulePriority":1,"description":"Expire images archived for more than 365 days",
				"selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365},
				"action":{"type":"expire"}}]}`,
			images: []Image{
				archived("archived-400", 800, 400, "a"),
				archived("archived-100", 800, 100),
				img("standard-old", 1000, "b"),
			},
			want: []string{"archived-400:EXPIRE:1"},
		},
		{
			name: "filtering on image count: keep only one untagged image",
			policy: `{"rules":[{"rulePriority":1,"description":"Keep only one untagged image, expire all others",
				"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},
				"action":{"type":"expire"}}]}`,
			images: []Image{
				img("u1", 3),
				img("u2", 2),
				img("u3", 1),
				img("t", 5, "latest"),
			},
			want: []string{"u1:EXPIRE:1", "u2:EXPIRE:1"},
		},
		{
			name: "multiple rules, example A: prod* keep 1 then beta* keep 1",
			policy: `{"rules":[
				{"rulePriority":1,"description":"Rule 1","selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
				{"rulePriority":2,"description":"Rule 2","selection":{"tagStatus":"tagged","tagPatternList":["beta*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
			images: multiRepo,
			want:   []string{"A:EXPIRE:1"},
		},
		{
			name: "multiple rules, example A (earlier edition, tagPrefixList)",
			policy: `{"rules":[
				{"rulePriority":1,"description":"Rule 1","selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
				{"rulePriority":2,"description":"Rule 2","selection":{"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
			images: multiRepo,
			want:   []string{"A:EXPIRE:1"},
		},
		{
			name: "multiple rules, example B: beta* keep 1 then prod* keep 1",
			policy: `{"rules":[
				{"rulePriority":1,"description":"Rule 1","selection":{"tagStatus":"tagged","tagPatternList":["beta*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
				{"rulePriority":2,"description":"Rule 2","selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
			images: multiRepo,
			want:   []string{"A:EXPIRE:1", "B:EXPIRE:1"},
		},
		{
			name: "multiple tags in a single rule, example A: alpha* and beta* older than 5 days",
			policy: `{"rules":[{"rulePriority":1,"description":"Rule 1",
				"selection":{"tagStatus":"tagged","tagPatternList":["alpha*","beta*"],"countType":"sinceImagePushed","countNumber":5,"countUnit":"days"},
				"action":{"type":"expire"}}]}`,
			images: multiTagRepoA,
			want:   []string{"C:EXPIRE:1"},
		},
		{
			name: "multiple tags in a single rule, example A (earlier edition, tagPrefixList)",
			policy: `{"rules":[{"rulePriority":1,"description":"Rule 1",
				"selection":{"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"sinceImagePushed","countNumber":5,"countUnit":"days"},
				"action":{"type":"expire"}}]}`,
			images: multiTagRepoA,
			want:   []string{"C:EXPIRE:1"},
		},
		{
			name: "multiple tags in a single rule, example B: tags are not exclusive",
			policy: `{"rules":[{"rulePriority":1,"description":"Rule 1",
				"selection":{"tagStatus":"tagged","tagPatternList":["alpha*","beta*"],"countType":"imageCountMoreThan","countNumber":1},
				"action":{"type":"expire"}}]}`,
			images: multiTagRepoB,
			want:   []string{"A:EXPIRE:1", "B:EXPIRE:1"},
		},
		{
			name: "multiple tags in a single rule, example B (earlier edition, tagPrefixList)",
			policy: `{"rules":[{"rulePriority":1,"description":"Rule 1",
				"selection":{"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"imageCountMoreThan","countNumber":1},
				"action":{"type":"expire"}}]}`,
			images: multiTagRepoB,
			want:   []string{"A:EXPIRE:1", "B:EXPIRE:1"},
		},
		{
			name: "all images, example A: any, keep 1",
			policy: `{"rules":[{"rulePriority":1,"description":"Rule 1",
				"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},
				"action":{"type":"expire"}}]}`,
			images: []Image{
				img("A", 4, "alpha-1"),
				img("B", 3, "beta-1"),
				img("C", 2),
				img("D", 1, "alpha-2"),
			},
			want: []string{"A:EXPIRE:1", "B:EXPIRE:1", "C:EXPIRE:1"},
		},
		{
			// The page gives D and E as "pushed 1 day ago" and says rule 3
			// keeps the newest image and marks D: E is the newest, and E is
			// not older than one day for rule 2. Hence E 23 hours, D 24.
			name: "all images, example B: every rule type in one policy",
			policy: `{"rules":[
				{"rulePriority":1,"description":"Rule 1","selection":{"tagStatus":"tagged","tagPatternList":["alpha*"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
				{"rulePriority":2,"description":"Rule 2","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}},
				{"rulePriority":3,"description":"Rule 3","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`,
			images: []Image{
				img("A", 4, "alpha-1", "beta-1"),
				img("B", 3),
				img("C", 2, "alpha-2"),
				img("D", 1, "git hash"),
				img("E", 23.0/24),
			},
			want: []string{"A:EXPIRE:1", "B:EXPIRE:2", "D:EXPIRE:3"},
		},
		{
			name: "archive: prod images older than 30 days",
			policy: `{"rules":[{"rulePriority":1,"description":"Archive production images older than 30 days",
				"selection":{"tagStatus":"tagged","tagPatternList":["prod*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},
				"action":{"type":"transition","targetStorageClass":"archive"}}]}`,
			images: []Image{
				img("prod-old", 31, "prod-1"),
				img("prod-new", 29, "prod-2"),
				archived("prod-archived", 100, 60, "prod-0"),
				img("dev-old", 100, "dev"),
			},
			want: []string{"prod-old:TRANSITION:1"},
		},
		{
			name: "archive: combining archive and expire rules",
			policy: `{"rules":[
				{"rulePriority":1,"description":"Archive images older than 30 days","selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}},
				{"rulePriority":2,"description":"Expire images archived for more than 365 days","selection":{"tagStatus":"any","storageClass":"archive","countType":"sinceImageTransitioned","countUnit":"days","countNumber":365},"action":{"type":"expire"}}]}`,
			images: []Image{
				img("standard-40", 40, "a"),
				img("standard-10", 10),
				archived("archived-400", 500, 400, "b"),
				archived("archived-100", 500, 100),
			},
			want: []string{"archived-400:EXPIRE:2", "standard-40:TRANSITION:1"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Evaluate(mustParse(t, c.policy), c.images, now)
			checkActions(t, got, c.want...)
			for _, a := range got {
				wantTarget := ""
				if a.Type == ActionTransition {
					wantTarget = StorageClassArchive
				}
				if a.TargetStorageClass != wantTarget {
					t.Errorf("%s: TargetStorageClass %q, want %q", a.Digest, a.TargetStorageClass, wantTarget)
				}
			}
		})
	}
}
