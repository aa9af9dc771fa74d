// Command wharf-bench is a load generator for OCI distribution registries.
//
//	wharf-bench --url http://127.0.0.1:5000 --scenario blob-push [flags]
//	wharf-bench compare [--a wharf --b distribution] results.jsonl...
//	wharf-bench freeport
//	wharf-bench wait --url http://127.0.0.1:5000/v2/ [--timeout 60s]
//
// A run prints one JSON line of results on stdout and a human-readable line
// on stderr. Credentials come from --user/--password or the environment
// variables WHARF_BENCH_USER and WHARF_BENCH_PASSWORD.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/wharfhq/wharf/internal/bench"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "compare":
			os.Exit(compare(os.Args[2:]))
		case "freeport":
			os.Exit(freeport())
		case "wait":
			os.Exit(wait(os.Args[2:]))
		}
	}
	os.Exit(run(os.Args[1:]))
}

type sizeFlag struct{ v *int64 }

func (s sizeFlag) String() string {
	if s.v == nil {
		return ""
	}
	return bench.FormatSize(*s.v)
}

func (s sizeFlag) Set(v string) error {
	n, err := bench.ParseSize(v)
	if err != nil {
		return err
	}
	*s.v = n
	return nil
}

func run(args []string) int {
	fs := flag.NewFlagSet("wharf-bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: wharf-bench --url URL --scenario NAME [flags]\n       wharf-bench compare|freeport|wait ...\n\nscenarios: %s\n\nflags:\n", strings.Join(bench.Scenarios, ", "))
		fs.PrintDefaults()
	}
	var (
		cfg        bench.Config
		url        = fs.String("url", "http://127.0.0.1:5000", "registry base URL")
		user       = fs.String("user", os.Getenv("WHARF_BENCH_USER"), "HTTP Basic user (env WHARF_BENCH_USER)")
		password   = fs.String("password", "", "HTTP Basic password (env WHARF_BENCH_PASSWORD)")
		timeout    = fs.Duration("timeout", 30*time.Minute, "overall time limit of the run")
		reqTimeout = fs.Duration("request-timeout", 10*time.Minute, "time limit of one request, body included")
		insecure   = fs.Bool("insecure", false, "skip TLS certificate verification")
		verify     = fs.String("verify", "auto", "hash downloaded blobs: true, false or auto (blob-pull yes, pull-storm no)")
		seed       = fs.Uint64("seed", 1, "seed of the pseudo-random blobs (blob-push/blob-pull/pull-storm)")
		cpuprofile = fs.String("cpuprofile", "", "write a CPU profile of the measured phase of wharf-bench itself to this file")
	)
	cfg.Size = 256 << 20
	cfg.ImageSize = 50 << 20
	fs.StringVar(&cfg.Scenario, "scenario", "", "scenario to run: "+strings.Join(bench.Scenarios, ", "))
	fs.StringVar(&cfg.Case, "case", "", "name of the result row (default: the scenario name)")
	fs.StringVar(&cfg.Label, "label", "", "registry label written in the result, e.g. wharf")
	fs.IntVar(&cfg.Round, "round", 0, "round number written in the result")
	fs.StringVar(&cfg.Repo, "repo", "wharf-bench", "repository prefix")
	fs.IntVar(&cfg.Blobs, "blobs", 4, "blob-push/blob-pull: number of blobs")
	fs.Var(sizeFlag{&cfg.Size}, "size", "blob-push/blob-pull: size of each blob (e.g. 256MiB)")
	fs.Var(sizeFlag{&cfg.Chunk}, "chunk", "blob-push: 0 for monolithic uploads, else PATCH chunk size (e.g. 16MiB)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "concurrent clients (default: manifest-get 64, pull-storm 200, small-push 16, tags-list 16, blob-* 1)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "duration of the timed scenarios")
	fs.Int64Var(&cfg.MaxOps, "max-ops", 100_000_000, "upper bound on the operations of a timed loop")
	fs.Int64Var(&cfg.MaxErrors, "max-errors", 100, "stop a timed loop after this many errors")
	fs.IntVar(&cfg.Tags, "tags", 10_000, "tags-list: number of tags")
	fs.IntVar(&cfg.PageSize, "page-size", 0, "tags-list: ask for pages of n tags (?n=), 0 for the registry default")
	fs.IntVar(&cfg.SetupConcurrency, "setup-concurrency", 32, "concurrency of setup phases (tagging)")
	fs.Var(sizeFlag{&cfg.ImageSize}, "image-size", "pull-storm: total layer bytes")
	fs.IntVar(&cfg.Layers, "layers", 5, "pull-storm: number of layers")
	fs.BoolVar(&cfg.SetupOnly, "setup-only", false, "only create what the scenario needs, measure nothing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "wharf-bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if cfg.Scenario == "" {
		fs.Usage()
		return 2
	}
	if *password == "" {
		*password = os.Getenv("WHARF_BENCH_PASSWORD")
	}
	cfg.Seed = *seed
	switch *verify {
	case "auto":
		cfg.Verify = cfg.Scenario == "blob-pull"
	case "true", "1", "yes":
		cfg.Verify = true
	case "false", "0", "no":
	default:
		fmt.Fprintf(os.Stderr, "wharf-bench: --verify must be true, false or auto\n")
		return 2
	}
	cfg = bench.Defaults(cfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	c, err := bench.NewClient(bench.ClientOptions{
		BaseURL:     *url,
		User:        *user,
		Password:    *password,
		Concurrency: max(cfg.Concurrency, cfg.SetupConcurrency),
		Timeout:     *reqTimeout,
		Insecure:    *insecure,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "wharf-bench: %v\n", err)
		return 2
	}
	defer c.Close()
	if err := c.Ping(ctx, bench.Repos(cfg)...); err != nil {
		fmt.Fprintf(os.Stderr, "wharf-bench: %s: %v\n", *url, err)
		return 1
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "wharf-bench: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "wharf-bench: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(ctx, c, cfg)
	if res != nil {
		line, _ := json.Marshal(res)
		fmt.Println(string(line))
		if res.Summary != "" {
			prefix := ""
			if cfg.Label != "" {
				prefix = "[" + cfg.Label + "] "
			}
			fmt.Fprintln(os.Stderr, prefix+res.Summary)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "wharf-bench: %v\n", err)
		return 1
	}
	return 0
}

func compare(args []string) int {
	fs := flag.NewFlagSet("wharf-bench compare", flag.ContinueOnError)
	a := fs.String("a", "wharf", "label of the candidate registry (numerator of the ratios)")
	b := fs.String("b", "distribution", "label of the reference registry")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var readers []io.Reader
	for _, p := range fs.Args() {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "wharf-bench compare: %v\n", err)
			return 1
		}
		defer f.Close()
		readers = append(readers, f)
	}
	if len(readers) == 0 {
		readers = append(readers, os.Stdin)
	}
	results, err := bench.ReadResults(io.MultiReader(readers...))
	if err != nil {
		fmt.Fprintf(os.Stderr, "wharf-bench compare: %v\n", err)
		return 1
	}
	rows := bench.Compare(results, *a, *b, bench.DefaultTargets)
	if err := bench.PrintTable(os.Stdout, rows, *a, *b); err != nil {
		return 1
	}
	return 0
}

func freeport() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "wharf-bench freeport: %v\n", err)
		return 1
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return 0
}

// wait polls a URL until it answers with the expected status.
func wait(args []string) int {
	fs := flag.NewFlagSet("wharf-bench wait", flag.ContinueOnError)
	url := fs.String("url", "", "URL to poll")
	status := fs.Int("status", 200, "expected status")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	pid := fs.Int("pid", 0, "give up early if this process exits")
	if err := fs.Parse(args); err != nil || *url == "" {
		return 2
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(*timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := hc.Get(*url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == *status {
				return 0
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if *pid > 0 {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", *pid)); err != nil {
				fmt.Fprintf(os.Stderr, "wharf-bench wait: process %d exited (last: %s)\n", *pid, last)
				return 1
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "wharf-bench wait: %s not ready after %s (last: %s)\n", *url, *timeout, last)
	return 1
}
