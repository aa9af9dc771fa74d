// Command gen generates a Go package for an AWS JSON 1.1 service from its
// AWS service model (the service-2.json the AWS SDKs are generated from) and,
// optionally, its paginators-1.json: typed structures, enums and error types,
// an operation table, per-operation handler interfaces with a Register
// function for awsjson.Handler, and input validation derived from the
// model's constraints.
//
// Usage (from a go:generate directive in the target package):
//
//	go run ../gen -model service-2.json [-paginators paginators-1.json] -pkg name -out zz_generated.go
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

const awsjsonImport = "github.com/wharfhq/wharf/internal/awsjson"

type config struct {
	ModelPath      string
	PaginatorsPath string
	Package        string
	AWSJSONImport  string
}

func main() {
	var cfg config
	var out string
	flag.StringVar(&cfg.ModelPath, "model", "", "service model (service-2.json)")
	flag.StringVar(&cfg.PaginatorsPath, "paginators", "", "paginators (paginators-1.json), optional")
	flag.StringVar(&cfg.Package, "pkg", "", "Go package name")
	flag.StringVar(&cfg.AWSJSONImport, "awsjson", awsjsonImport, "import path of the awsjson runtime")
	flag.StringVar(&out, "out", "", "output file")
	flag.Parse()
	if cfg.ModelPath == "" || cfg.Package == "" || out == "" {
		flag.Usage()
		os.Exit(2)
	}
	src, err := generate(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := writeFileAtomic(out, src); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gen-*.go.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
