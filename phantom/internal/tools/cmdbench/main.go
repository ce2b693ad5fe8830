// Command cmdbench times commands for scripts/bench.sh (make bench).
//
// Time a command (wall time from start to exit, warm-up runs discarded):
//
//	cmdbench [-name NAME] [-runs 30] [-warmup 3] [-stdin VALUE] -- CMD ARGS...
//
// Time argon2.IDKey with the parameters of vault.DefaultKDF, in this process
// (warm: after the warm-up calls the Go heap already holds the memory the KDF
// uses):
//
//	cmdbench -argon2 [-runs 7] [-warmup 3]
//
// or as a CLI pays it, the first call in a fresh process (cold: the KDF's
// memory is page-faulted in during the call); each run starts a copy of
// cmdbench and times one IDKey inside it, process start not included:
//
//	cmdbench -argon2-cold [-runs 7] [-warmup 1]
//
// Either way it prints one machine-readable line on stdout:
//
//	NAME MEDIAN_MS P90_MS MIN_MS MAX_MS RUNS
//
// NAME defaults to the command's words joined with "_" (for -argon2:
// "argon2id:t=3,m=64MiB,p=1", the parameters measured; -argon2-cold adds
// ":cold"). With -stdin, every
// run gets VALUE on a pipe as standard input. In VALUE and in the command's
// arguments "{i}" becomes the run number (warm-ups count), so each run can
// store a different value, or add a secret under a new name. A command that exits
// non-zero (or cannot start) ends cmdbench with exit status 1 and the
// command's stderr: a benchmark of a failing command means nothing.
package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"phantomstack.dev/phantom/internal/vault"
)

func main() {
	name := flag.String("name", "", "label printed in the output line (default: the command's words joined with _)")
	runs := flag.Int("runs", 30, "timed runs")
	warmup := flag.Int("warmup", 3, "untimed warm-up runs before the timed ones")
	stdin := flag.String("stdin", "", "value written to the command's stdin on every run; {i} becomes the run number")
	useStdin := false
	doArgon := flag.Bool("argon2", false, "time argon2.IDKey with vault.DefaultKDF instead of a command")
	doCold := flag.Bool("argon2-cold", false, "like -argon2, but each run is the first call in a fresh process")
	once := flag.Bool("argon2-once", false, "(internal, for -argon2-cold) one IDKey; print its nanoseconds")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: cmdbench [-name N] [-runs N] [-warmup N] [-stdin VALUE] -- CMD ARGS...\n       cmdbench -argon2|-argon2-cold [-runs N] [-warmup N]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "stdin" {
			useStdin = true
		}
	})
	if *runs < 1 || *warmup < 0 {
		fatalf("-runs must be at least 1 and -warmup at least 0")
	}

	var (
		label   string
		samples []time.Duration
		err     error
	)
	p := vault.DefaultKDF
	argonLabel := fmt.Sprintf("argon2id:t=%d,m=%s,p=%d", p.Time, kib(p.MemoryKiB), p.Threads)
	switch {
	case *once:
		fmt.Println(int64(timeArgon2(p, 1, 0)[0]))
		return
	case *doArgon || *doCold:
		if flag.NArg() != 0 {
			fatalf("-argon2 and -argon2-cold take no command")
		}
		label = argonLabel
		if *doCold {
			label += ":cold"
			samples, err = timeArgon2Cold(*runs, *warmup)
			if err != nil {
				fatalf("%v", err)
			}
		} else {
			samples = timeArgon2(p, *runs, *warmup)
		}
	default:
		args := flag.Args()
		if len(args) == 0 {
			flag.Usage()
			os.Exit(2)
		}
		label = strings.Join(args, "_")
		var in *string
		if useStdin {
			in = stdin
		}
		samples, err = timeCommand(args, in, *runs, *warmup)
		if err != nil {
			fatalf("%v", err)
		}
	}
	if *name != "" {
		label = *name
	}
	slices.Sort(samples)
	fmt.Printf("%s %s %s %s %s %d\n", label,
		ms(percentile(samples, 50)), ms(percentile(samples, 90)),
		ms(samples[0]), ms(samples[len(samples)-1]), len(samples))
}

// timeCommand runs args warmup+runs times and returns the timed wall times.
func timeCommand(args []string, stdin *string, runs, warmup int) ([]time.Duration, error) {
	path, err := exec.LookPath(args[0])
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, 0, runs)
	for i := range warmup + runs {
		var stderr bytes.Buffer
		argv := make([]string, len(args)-1)
		for j, a := range args[1:] {
			argv[j] = strings.ReplaceAll(a, "{i}", strconv.Itoa(i))
		}
		cmd := exec.Command(path, argv...)
		cmd.Stdout = nil // /dev/null
		cmd.Stderr = &stderr
		if stdin != nil {
			cmd.Stdin = strings.NewReader(strings.ReplaceAll(*stdin, "{i}", strconv.Itoa(i)))
		}
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			line := strings.Join(append([]string{args[0]}, argv...), " ")
			msg := strings.TrimSpace(stderr.String())
			var ee *exec.ExitError
			if errors.As(err, &ee) && msg != "" {
				return nil, fmt.Errorf("%s (run %d): %v:\n%s", line, i+1, err, msg)
			}
			return nil, fmt.Errorf("%s (run %d): %v", line, i+1, err)
		}
		if i >= warmup {
			out = append(out, d)
		}
	}
	return out, nil
}

// timeArgon2 derives a 32-byte key with p, as a passphrase vault does
// (16-byte salt), warmup+runs times.
func timeArgon2(p vault.KDFParams, runs, warmup int) []time.Duration {
	pw := []byte("bench-passphrase-not-secret")
	salt := make([]byte, 16)
	rand.Read(salt)
	out := make([]time.Duration, 0, runs)
	for i := range warmup + runs {
		start := time.Now()
		k := argon2.IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, 32)
		d := time.Since(start)
		if len(k) != 32 {
			fatalf("argon2.IDKey returned %d bytes", len(k))
		}
		if i >= warmup {
			out = append(out, d)
		}
	}
	return out
}

// timeArgon2Cold runs "cmdbench -argon2-once" warmup+runs times and collects
// the duration each child measured around its single IDKey call.
func timeArgon2Cold(runs, warmup int) ([]time.Duration, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, 0, runs)
	for i := range warmup + runs {
		b, err := exec.Command(self, "-argon2-once").Output()
		if err != nil {
			return nil, fmt.Errorf("%s -argon2-once: %v", self, err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s -argon2-once printed %q", self, b)
		}
		if i >= warmup {
			out = append(out, time.Duration(ns))
		}
	}
	return out, nil
}

// percentile returns the nearest-rank q-th percentile of sorted s; for an
// even count the median is the mean of the two middle samples.
func percentile(s []time.Duration, q int) time.Duration {
	n := len(s)
	if q == 50 {
		if n%2 == 1 {
			return s[n/2]
		}
		return (s[n/2-1] + s[n/2]) / 2
	}
	rank := int(math.Ceil(float64(q) / 100 * float64(n)))
	return s[max(rank, 1)-1]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

func kib(k uint32) string {
	if k%1024 == 0 {
		return strconv.FormatUint(uint64(k/1024), 10) + "MiB"
	}
	return strconv.FormatUint(uint64(k), 10) + "KiB"
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "cmdbench: "+format+"\n", a...)
	os.Exit(1)
}
