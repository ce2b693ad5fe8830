package leakscan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus from genCorpus")

const corpusDir = "testdata/corpus"

// TestCorpusUpToDate: the committed corpus is exactly what the generator
// writes (with -update, it writes it).
func TestCorpusUpToDate(t *testing.T) {
	items := genCorpus()
	man, err := json.MarshalIndent(items, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	man = append(man, '\n')
	if *update {
		os.RemoveAll(corpusDir)
		for _, it := range items {
			p := filepath.Join(corpusDir, filepath.FromSlash(it.File))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(it.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile("testdata/corpus.json", man, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("testdata/corpus.json")
	if err != nil || !bytes.Equal(got, man) {
		t.Fatalf("testdata/corpus.json is not what genCorpus writes (err %v); run: go test ./internal/leakscan/ -run TestCorpusUpToDate -update", err)
	}
	for _, it := range items {
		b, err := os.ReadFile(filepath.Join(corpusDir, filepath.FromSlash(it.File)))
		if err != nil || string(b) != it.content {
			t.Fatalf("%s differs from genCorpus (err %v); regenerate with -update", it.File, err)
		}
	}
	pos, neg := 0, 0
	kinds := map[string]bool{}
	for _, it := range items {
		if it.Leak {
			pos++
			kinds[it.Kind] = true
		} else {
			neg++
		}
	}
	if len(kinds) < 25+2 || neg < 2*pos {
		t.Fatalf("corpus too small: %d kinds of leak (want 25 providers + env + vault), %d positives, %d negatives (want at least twice as many)", len(kinds), pos, neg)
	}
}

type score struct{ tp, fp, fn, tn int }

func (s score) precision() float64 { return float64(s.tp) / float64(max(1, s.tp+s.fp)) }
func (s score) recall() float64    { return float64(s.tp) / float64(max(1, s.tp+s.fn)) }
func (s score) f1() float64 {
	p, r := s.precision(), s.recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// scoreCorpus scans the corpus and scores per file: a file with any
// finding is predicted a leak.
func scoreCorpus(t *testing.T, withVault bool) (score, []string) {
	t.Helper()
	items := genCorpus()
	var vals []KnownValue
	for _, it := range items {
		if it.VaultName != "" {
			vals = append(vals, KnownValue{Name: it.VaultName, Value: []byte(it.VaultValue), Version: "1"})
		}
	}
	root, _ := filepath.Abs(corpusDir)
	opts := Options{Root: root}
	if withVault {
		opts.Known = NewKnown(vals)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ScanPaths([]string{root}); err != nil {
		t.Fatal(err)
	}
	hit := map[string]bool{}
	for _, f := range s.Report("worktree").Findings {
		hit[f.File] = true
	}
	var sc score
	var wrong []string
	for _, it := range items {
		switch {
		case it.Leak && hit[it.File]:
			sc.tp++
		case it.Leak:
			sc.fn++
			wrong = append(wrong, "missed "+it.File)
		case hit[it.File]:
			sc.fp++
			wrong = append(wrong, "false alarm "+it.File)
		default:
			sc.tn++
		}
	}
	slices.Sort(wrong)
	return sc, wrong
}

// Figures reached on the corpus (docs/phantom.md, "How well it finds
// leaks"); the test fails if a change lowers them.
const (
	minPrecision = 0.987 // 80 of 81 (one UUID idempotency_key, flagged by the generic rule)
	minRecall    = 1.0
)

// TestCorpusPrecisionRecall scores all three layers on the labelled corpus
// and prints precision, recall and F1, with and without the vault.
func TestCorpusPrecisionRecall(t *testing.T) {
	off, offWrong := scoreCorpus(t, false)
	t.Logf("without the vault (patterns + env files): precision %.3f recall %.3f F1 %.3f (tp %d fp %d fn %d tn %d)",
		off.precision(), off.recall(), off.f1(), off.tp, off.fp, off.fn, off.tn)
	for _, w := range offWrong {
		t.Logf("  without the vault: %s", w)
	}
	on, wrong := scoreCorpus(t, true)
	t.Logf("all layers: precision %.3f recall %.3f F1 %.3f (tp %d fp %d fn %d tn %d)",
		on.precision(), on.recall(), on.f1(), on.tp, on.fp, on.fn, on.tn)
	for _, w := range wrong {
		t.Logf("  all layers: %s", w)
	}
	if on.precision() < minPrecision || on.recall() < minRecall {
		t.Fatalf("all layers: precision %.3f recall %.3f, below the %.3f / %.3f reached before", on.precision(), on.recall(), minPrecision, minRecall)
	}
}
