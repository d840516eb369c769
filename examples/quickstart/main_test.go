package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them, which would mean
// that run left the fake server or the cache open. The signal handler's
// goroutine lives as long as the process by design.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("os/signal.signal_recv"))
}

// defaultOutput is the output of the program run without flags.
var defaultOutput = []string{
	`Started a fake Secrets Manager on 127.0.0.1 with secret "quickstart/db-password".`,
	`read 1                 "Tr******"             API calls: GetSecretValue 1, DescribeSecret 0`,
	`reads 2-5              "Tr******" each time   API calls: GetSecretValue 0, DescribeSecret 0`,
	`Rotated the secret on the server: a new version now has AWSCURRENT.`,
	`read after rotation    "Tr******"             API calls: GetSecretValue 0, DescribeSecret 0`,
	`RefreshNow             done                   API calls: GetSecretValue 1, DescribeSecret 1`,
	`read after RefreshNow  "co******"             API calls: GetSecretValue 0, DescribeSecret 0`,
	`read AWSPREVIOUS       "Tr******"             API calls: GetSecretValue 0, DescribeSecret 0`,
	`Cache stats: GetSecretValue calls 2, DescribeSecret calls 1, refreshes 1, failures 0, evictions 0.`,
	`8 reads made 3 API calls; reading without a cache makes one GetSecretValue call per read.`,
}

// checkLines compares output with want line by line.
func checkLines(t *testing.T, output string, want []string) {
	t.Helper()
	got := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("line %d missing, want %q", i+1, want[i])
		case i >= len(want):
			t.Errorf("extra line %d: %q", i+1, got[i])
		case got[i] != want[i]:
			t.Errorf("line %d:\n got %q\nwant %q", i+1, got[i], want[i])
		}
	}
}

// checkNoSecrets fails the test if output contains a value stored on the
// fake server in the clear.
func checkNoSecrets(t *testing.T, output string) {
	t.Helper()
	for _, value := range []string{localValue, rotatedValue} {
		if strings.Contains(output, value) {
			t.Errorf("output contains the secret value %q in the clear", value)
		}
	}
}

func TestRunLocalMode(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-reads", "3"}, &stdout, &stderr)

	if code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", stderr.String())
	}
	want := append([]string(nil), defaultOutput...)
	want[2] = `reads 2-3              "Tr******" each time   API calls: GetSecretValue 0, DescribeSecret 0`
	want[9] = `6 reads made 3 API calls; reading without a cache makes one GetSecretValue call per read.`
	checkLines(t, stdout.String(), want)
	checkNoSecrets(t, stdout.String())
}

func TestRunLocalModeReadCounts(t *testing.T) {
	tests := []struct {
		reads       string
		repeatLine  string // "" when no line for repeated reads is expected
		summaryLine string
	}{
		{"1", "", "4 reads made 3 API calls"},
		{"2", `read 2                 "Tr******"             API calls: GetSecretValue 0, DescribeSecret 0`, "5 reads made 3 API calls"},
		{"1000", `reads 2-1000           "Tr******" each time   API calls: GetSecretValue 0, DescribeSecret 0`, "1003 reads made 3 API calls"},
	}
	for _, tt := range tests {
		t.Run("reads "+tt.reads, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"-reads", tt.reads}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit code = %d, want 0; stderr: %s", code, stderr.String())
			}

			lines := strings.Split(stdout.String(), "\n")
			if tt.repeatLine == "" {
				if strings.Contains(stdout.String(), "read 2") || strings.Contains(stdout.String(), "reads 2-") {
					t.Errorf("output has a line for repeated reads:\n%s", stdout.String())
				}
			} else if len(lines) < 3 || lines[2] != tt.repeatLine {
				t.Errorf("output:\n%s\nwant third line %q", stdout.String(), tt.repeatLine)
			}
			if !strings.Contains(stdout.String(), "\n"+tt.summaryLine+";") {
				t.Errorf("output:\n%s\nwant a summary starting %q", stdout.String(), tt.summaryLine)
			}
		})
	}
}

func TestRunRejectsInvalidUsage(t *testing.T) {
	// None of these runs reaches the point where an AWS configuration is
	// loaded, but the environment forbids instance metadata all the same.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tests := []struct {
		name    string
		args    []string
		message string
	}{
		{"aws without secret id", []string{"-aws"}, "missing -secret-id: -aws needs the name or ARN of the secret to read"},
		{"aws with region but no secret id", []string{"-aws", "-region", "eu-west-1"}, "missing -secret-id"},
		{"secret id without aws", []string{"-secret-id", "prod/db"}, "-secret-id and -region apply only with -aws"},
		{"region without aws", []string{"-region", "eu-west-1"}, "-secret-id and -region apply only with -aws"},
		{"zero reads", []string{"-reads", "0"}, "invalid -reads 0: must be at least 1"},
		{"negative reads", []string{"-aws", "-secret-id", "prod/db", "-reads", "-3"}, "invalid -reads -3: must be at least 1"},
		{"reads not a number", []string{"-reads", "many"}, `invalid value "many" for flag -reads`},
		{"positional argument", []string{"prod/db"}, `unexpected argument "prod/db"`},
		{"unknown flag", []string{"-secret", "prod/db"}, "flag provided but not defined: -secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)

			if code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.message) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.message)
			}
			if !strings.Contains(stderr.String(), "Usage:") {
				t.Errorf("stderr = %q, want the usage text", stderr.String())
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-h"}, &stdout, &stderr)

	if code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
	for _, want := range []string{"quickstart -aws -secret-id NAME", "-reads", "-region"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help text = %q, want it to contain %q", stderr.String(), want)
		}
	}
}

// TestBuiltProgram builds the program and runs it as a user would, checking its
// output and exit code.
func TestBuiltProgram(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command not found in PATH: %v", err)
	}
	binary := filepath.Join(t.TempDir(), "quickstart")

	buildCtx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(buildCtx, goTool, "build", "-buildvcs=false", "-o", binary, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build failed: %v\n%s", err, out)
	}

	// execute runs the binary with args and returns its exit code and output.
	execute := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			t.Fatalf("running %s failed: %v", binary, err)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s did not finish within a minute", binary)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}

	t.Run("default mode", func(t *testing.T) {
		code, stdout, stderr := execute(t)
		if code != 0 {
			t.Errorf("exit code = %d, want 0", code)
		}
		if stderr != "" {
			t.Errorf("stderr = %q, want nothing", stderr)
		}
		checkLines(t, stdout, defaultOutput)
		checkNoSecrets(t, stdout)
	})

	t.Run("aws without secret id", func(t *testing.T) {
		code, stdout, stderr := execute(t, "-aws")
		if code != 2 {
			t.Errorf("exit code = %d, want 2", code)
		}
		if stdout != "" {
			t.Errorf("stdout = %q, want nothing", stdout)
		}
		if !strings.Contains(stderr, "missing -secret-id") {
			t.Errorf("stderr = %q, want it to name the missing -secret-id", stderr)
		}
	})
}

func TestMask(t *testing.T) {
	tests := []struct {
		value string
		want  string
	}{
		{"", `"********"`},
		{"short", `"********"`},
		{"7-chars", `"********"`},
		{"8-chars!", `"8-******"`},
		{"Tr0ub4dor&3", `"Tr******"`},
		{"correct horse battery staple", `"co******"`},
		{"ключ-от-базы", `"кл******"`},
		{"\x00\x01rest-of-it", `"\x00\x01******"`},
	}
	for _, tt := range tests {
		if got := mask(tt.value); got != tt.want {
			t.Errorf("mask(%q) = %s, want %s", tt.value, got, tt.want)
		}
	}
}
