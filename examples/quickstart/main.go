// Command quickstart reads a secret repeatedly through a secretcache.SecretCache
// and prints how many Secrets Manager API calls each step made.
//
// By default it starts a fake Secrets Manager on 127.0.0.1 and needs no AWS
// account or network access:
//
//	go run ./examples/quickstart
//
// In that mode it also rotates the secret on the fake server, shows that the
// cache keeps serving the old value until RefreshNow, and reads AWSPREVIOUS
// after the refresh.
//
// With -aws it reads a real secret through secretcache.NewFromDefaultConfig,
// which takes credentials and the region from the default AWS configuration
// (environment variables, shared config files, instance or task role):
//
//	go run ./examples/quickstart -aws -secret-id prod/db-password -region eu-west-1
//
// Values are printed masked: the first two characters followed by six
// asterisks, or only asterisks for values shorter than eight characters.
// The exit code is 0 on success, 1 when a step fails and 2 for invalid usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/secretcache-go/secretcache"
	"github.com/secretcache-go/secretcache/secretcachetest"
)

const (
	// localSecretID is the secret that local mode stores on the fake server.
	localSecretID = "quickstart/db-password"
	// localValue and rotatedValue are the secret's values before and after
	// the rotation in local mode. Their first two characters differ, so the
	// masked output shows which one a read returned.
	localValue   = "Tr0ub4dor&3"
	rotatedValue = "correct horse battery staple"

	// runTimeout bounds the whole run, including the AWS SDK's own retries.
	runTimeout = 2 * time.Minute

	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// options are the parsed command-line flags.
type options struct {
	aws      bool
	secretID string
	region   string
	reads    int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the program with the given arguments and returns its exit
// code. Results go to stdout, and usage text and errors go to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()

	if opts.aws {
		err = runAWS(ctx, opts, stdout)
	} else {
		err = runLocal(ctx, opts, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "quickstart: %v\n", err)
		return exitError
	}
	return exitOK
}

// parseFlags parses and checks args. It prints any problem together with
// the usage text to stderr before returning the error.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opts options
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&opts.aws, "aws", false, "read a real secret through the default AWS configuration instead of a local fake server")
	fs.StringVar(&opts.secretID, "secret-id", "", "name or ARN of the secret to read; required with -aws")
	fs.StringVar(&opts.region, "region", "", "AWS region of the secret, such as eu-west-1; with -aws only (default: the region of the AWS configuration)")
	fs.IntVar(&opts.reads, "reads", 5, "number of reads before any rotation, at least 1")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintln(out, "Usage:")
		fmt.Fprintln(out, "  quickstart [-reads N]")
		fmt.Fprintln(out, "  quickstart -aws -secret-id NAME [-region REGION] [-reads N]")
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Without -aws, quickstart starts a fake Secrets Manager on 127.0.0.1 and needs no AWS account.")
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Flags:")
		fs.PrintDefaults()
	}

	// Parse prints its own errors and the usage text.
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if err := checkOptions(opts, fs.Args()); err != nil {
		fmt.Fprintf(stderr, "quickstart: %v\n\n", err)
		fs.Usage()
		return opts, err
	}
	return opts, nil
}

// checkOptions rejects flag combinations that the program cannot run.
func checkOptions(opts options, rest []string) error {
	if len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q: quickstart takes only flags", rest[0])
	}
	if opts.reads < 1 {
		return fmt.Errorf("invalid -reads %d: must be at least 1", opts.reads)
	}
	if opts.aws && opts.secretID == "" {
		return errors.New("missing -secret-id: -aws needs the name or ARN of the secret to read")
	}
	if !opts.aws && (opts.secretID != "" || opts.region != "") {
		return errors.New("-secret-id and -region apply only with -aws: add -aws to read a real secret")
	}
	return nil
}

// runLocal runs the demonstration against a fake Secrets Manager on
// 127.0.0.1, checking each value read against the one stored on the server.
func runLocal(ctx context.Context, opts options, stdout io.Writer) error {
	server, err := startServer()
	if err != nil {
		return err
	}
	defer server.Close()
	server.PutString(localSecretID, localValue)

	cache, err := secretcache.New(server.Client(), secretcache.Config{})
	if err != nil {
		return err
	}
	defer cache.Close()

	// The server counts the requests that reach it, which is what Secrets
	// Manager would bill.
	steps := &stepPrinter{out: stdout, count: func() apiCalls {
		return apiCalls{
			getSecretValue: server.Calls(secretcachetest.OpGetSecretValue),
			describeSecret: server.Calls(secretcachetest.OpDescribeSecret),
		}
	}}
	fmt.Fprintf(stdout, "Started a fake Secrets Manager on 127.0.0.1 with secret %q.\n", localSecretID)

	if err := readRepeatedly(ctx, cache, localSecretID, opts.reads, localValue, steps); err != nil {
		return err
	}

	server.PutString(localSecretID, rotatedValue)
	fmt.Fprintln(stdout, "Rotated the secret on the server: a new version now has AWSCURRENT.")

	err = steps.run("read after rotation", 1, func() (string, error) {
		return readExpecting(ctx, cache, localSecretID, localValue, "the cached value from before the rotation")
	})
	if err != nil {
		return err
	}
	err = steps.run("RefreshNow", 0, func() (string, error) {
		return "done", cache.RefreshNow(ctx, localSecretID)
	})
	if err != nil {
		return err
	}
	err = steps.run("read after RefreshNow", 1, func() (string, error) {
		return readExpecting(ctx, cache, localSecretID, rotatedValue, "the rotated value")
	})
	if err != nil {
		return err
	}
	err = steps.run("read AWSPREVIOUS", 1, func() (string, error) {
		return readExpecting(ctx, cache, localSecretID, localValue, "the value from before the rotation",
			secretcache.WithVersionStage("AWSPREVIOUS"))
	})
	if err != nil {
		return err
	}

	printSummary(stdout, cache, steps)
	return nil
}

// startServer starts the fake server, turning its panic on a failed listen
// into an error.
func startServer() (server *secretcachetest.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("starting the fake Secrets Manager failed: %v", r)
		}
	}()
	return secretcachetest.NewServer(), nil
}

// runAWS reads opts.secretID from Secrets Manager through the default AWS
// configuration.
func runAWS(ctx context.Context, opts options, stdout io.Writer) error {
	if opts.region != "" {
		// The default AWS configuration takes its region from AWS_REGION
		// before the shared config files.
		if err := os.Setenv("AWS_REGION", opts.region); err != nil {
			return fmt.Errorf("setting AWS_REGION to %q failed: %w", opts.region, err)
		}
	}
	cache, err := secretcache.NewFromDefaultConfig(ctx, secretcache.Config{})
	if err != nil {
		return err
	}
	defer cache.Close()

	// Stats counts the calls the cache made. A call that the SDK retried
	// counts once.
	steps := &stepPrinter{out: stdout, count: func() apiCalls {
		st := cache.Stats()
		return apiCalls{getSecretValue: st.GetSecretValueCalls, describeSecret: st.DescribeSecretCalls}
	}}
	fmt.Fprintf(stdout, "Reading secret %q through the default AWS configuration.\n", opts.secretID)

	if err := readRepeatedly(ctx, cache, opts.secretID, opts.reads, "", steps); err != nil {
		return err
	}
	printSummary(stdout, cache, steps)
	return nil
}

// readRepeatedly reads secretID reads times and prints the first read and
// the remaining reads as two steps. Every read must return the value of
// the first one, and the first must return want unless want is "".
func readRepeatedly(ctx context.Context, cache *secretcache.SecretCache, secretID string, reads int, want string, steps *stepPrinter) error {
	var first string
	err := steps.run("read 1", 1, func() (string, error) {
		value, err := cache.GetSecretString(ctx, secretID)
		if err != nil {
			return "", err
		}
		if want != "" && value != want {
			return "", errors.New("returned a different value than the one stored on the server")
		}
		first = value
		return mask(value), nil
	})
	if err != nil || reads == 1 {
		return err
	}

	label := fmt.Sprintf("reads 2-%d", reads)
	if reads == 2 {
		label = "read 2"
	}
	return steps.run(label, reads-1, func() (string, error) {
		for i := 2; i <= reads; i++ {
			value, err := cache.GetSecretString(ctx, secretID)
			if err != nil {
				return "", fmt.Errorf("read %d: %w", i, err)
			}
			if value != first {
				return "", fmt.Errorf("read %d returned a different value than read 1", i)
			}
		}
		if reads == 2 {
			return mask(first), nil
		}
		return mask(first) + " each time", nil
	})
}

// readExpecting reads secretID and returns the masked value, or an error
// naming what the read should have returned when it returned anything else.
func readExpecting(ctx context.Context, cache *secretcache.SecretCache, secretID, want, wantName string, opts ...secretcache.GetOption) (string, error) {
	value, err := cache.GetSecretString(ctx, secretID, opts...)
	if err != nil {
		return "", err
	}
	if value != want {
		return "", fmt.Errorf("returned a different value than %s", wantName)
	}
	return mask(value), nil
}

// printSummary prints the cache's counters and compares the API calls made
// with the number of reads.
func printSummary(out io.Writer, cache *secretcache.SecretCache, steps *stepPrinter) {
	st := cache.Stats()
	fmt.Fprintf(out, "Cache stats: GetSecretValue calls %d, DescribeSecret calls %d, refreshes %d, failures %d, evictions %d.\n",
		st.GetSecretValueCalls, st.DescribeSecretCalls, st.Refreshes, st.Failures, st.Evictions)
	total := steps.count()
	fmt.Fprintf(out, "%d reads made %d API calls; reading without a cache makes one GetSecretValue call per read.\n",
		steps.reads, total.getSecretValue+total.describeSecret)
}

// apiCalls is a count of Secrets Manager calls per operation.
type apiCalls struct {
	getSecretValue int64
	describeSecret int64
}

func (c apiCalls) String() string {
	return fmt.Sprintf("GetSecretValue %d, DescribeSecret %d", c.getSecretValue, c.describeSecret)
}

// stepPrinter is a runner for the steps of the demonstration. It prints one
// line for each step: its label, its result and the API calls it made.
type stepPrinter struct {
	out   io.Writer
	count func() apiCalls // API calls made so far
	reads int             // reads made by steps so far
}

// run runs fn as the step named label and adds reads, the number of reads
// that fn makes, to p.reads. fn returns the text to print, which must not
// contain a secret value in the clear.
func (p *stepPrinter) run(label string, reads int, fn func() (string, error)) error {
	before := p.count()
	result, err := fn()
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	after := p.count()
	stepCalls := apiCalls{
		getSecretValue: after.getSecretValue - before.getSecretValue,
		describeSecret: after.describeSecret - before.describeSecret,
	}
	p.reads += reads
	fmt.Fprintf(p.out, "%-22s %-22s API calls: %v\n", label, result, stepCalls)
	return nil
}

// maskShownRunes is the number of leading characters that mask shows.
const maskShownRunes = 2

// maskMinRunes is the minimum length, in characters, of a value that mask
// shows the start of.
const maskMinRunes = 8

// mask returns value quoted with all but its first two characters replaced
// by six asterisks, or as eight asterisks when it is shorter than eight
// characters. The number of asterisks does not depend on the length, so the
// output does not reveal it either.
func mask(value string) string {
	runes := []rune(value)
	if len(runes) < maskMinRunes {
		return strconv.Quote("********")
	}
	return strconv.Quote(string(runes[:maskShownRunes]) + "******")
}
