// Command checkbench supports `make bench` for phantom check
// (scripts/bench-check.sh): it generates the throughput tree, lists the
// corpus's vault values, and scores a scanner's report against the
// labelled corpus (phantom/internal/leakscan/testdata/corpus.json).
//
//	checkbench gentree DIR MB        write about MB megabytes of source-like files
//	checkbench vault MANIFEST        print NAME<TAB>VALUE for each vault value
//	checkbench score MANIFEST FORMAT REPORT
//	                                 FORMAT phantom (check --json) or gitleaks
//	                                 (--report-format json); prints "P R F1 tp fp fn"
package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "gentree":
		if len(os.Args) != 4 {
			usage()
		}
		mb, perr := strconv.Atoi(os.Args[3])
		if perr != nil {
			usage()
		}
		err = genTree(os.Args[2], mb)
	case "vault":
		if len(os.Args) != 3 {
			usage()
		}
		err = vault(os.Args[2])
	case "score":
		if len(os.Args) != 5 {
			usage()
		}
		err = score(os.Args[2], os.Args[3], os.Args[4])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: checkbench gentree DIR MB | vault MANIFEST | score MANIFEST phantom|gitleaks REPORT")
	os.Exit(2)
}

type item struct {
	File       string `json:"file"`
	Leak       bool   `json:"leak"`
	Kind       string `json:"kind"`
	VaultName  string `json:"vault_name"`
	VaultValue string `json:"vault_value"`
}

func manifest(path string) ([]item, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var items []item
	return items, json.Unmarshal(b, &items)
}

func vault(path string) error {
	items, err := manifest(path)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.VaultName != "" {
			fmt.Printf("%s\t%s\n", it.VaultName, it.VaultValue)
		}
	}
	return nil
}

func score(man, format, report string) error {
	items, err := manifest(man)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(report)
	if err != nil {
		return err
	}
	hit := map[string]bool{}
	switch format {
	case "phantom":
		var r struct {
			Findings []struct {
				File string `json:"file"`
			} `json:"findings"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		for _, f := range r.Findings {
			hit[filepath.ToSlash(f.File)] = true
		}
	case "gitleaks":
		var r []struct {
			File string `json:"File"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		for _, f := range r {
			hit[filepath.ToSlash(f.File)] = true
		}
	default:
		usage()
	}
	// Report paths may carry a prefix (the scanned directory): match by suffix.
	found := func(file string) bool {
		for h := range hit {
			if h == file || strings.HasSuffix(h, "/"+file) {
				return true
			}
		}
		return false
	}
	var tp, fp, fn int
	for _, it := range items {
		f := found(it.File)
		switch {
		case it.Leak && f:
			tp++
		case it.Leak:
			fn++
		case f:
			fp++
		}
	}
	p := float64(tp) / float64(max(1, tp+fp))
	r := float64(tp) / float64(max(1, tp+fn))
	f1 := 0.0
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	fmt.Printf("%.3f %.3f %.3f %d %d %d\n", p, r, f1, tp, fp, fn)
	return nil
}

// genTree writes a deterministic tree of source-like text files (4-64 KiB,
// a few long lines, the odd secret) until it holds about mb megabytes.
func genTree(dir string, mb int) error {
	r := rand.New(rand.NewChaCha8([32]byte{'t', 'r', 'e', 'e'}))
	words := strings.Fields("func return const import package config client server request response error value name token user id list map string int bool true false nil self this async await export default class public private static void new if else for while switch case break continue try catch finally throw log debug info warn key secret password data buffer stream handler router middleware session cache queue worker task job retry timeout")
	line := func() string {
		n := 3 + r.IntN(12)
		var b strings.Builder
		b.WriteString(strings.Repeat("\t", r.IntN(4)))
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			switch r.IntN(20) {
			case 0:
				b.WriteString(strconv.Itoa(r.IntN(100000)))
			case 1:
				b.WriteString(fmt.Sprintf("%q", words[r.IntN(len(words))]+"-"+words[r.IntN(len(words))]))
			case 2:
				b.WriteString(fmt.Sprintf("%x", r.Uint64()))
			default:
				b.WriteString(words[r.IntN(len(words))])
			}
		}
		return b.String()
	}
	exts := []string{"go", "js", "ts", "py", "json", "md", "yaml", "txt"}
	total, target := 0, mb<<20
	for f := 0; total < target; f++ {
		sub := filepath.Join(dir, fmt.Sprintf("pkg%03d", f/50))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		size := 4<<10 + r.IntN(60<<10)
		var b strings.Builder
		for b.Len() < size {
			b.WriteString(line())
			b.WriteByte('\n')
			if r.IntN(400) == 0 {
				// a minified line
				for range 200 {
					b.WriteString(line())
					b.WriteByte(';')
				}
				b.WriteByte('\n')
			}
		}
		if f%97 == 0 {
			b.WriteString("const githubToken = \"ghp_" + randStr(r, 36) + "\"\n")
		}
		p := filepath.Join(sub, fmt.Sprintf("file%05d.%s", f, exts[f%len(exts)]))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return err
		}
		total += b.Len()
	}
	return nil
}

func randStr(r *rand.Rand, n int) string {
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = a[r.IntN(len(a))]
	}
	return string(b)
}
