package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"math/big"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Mode names where the job's data lives. It also names the dl.cfg section ([LOCAL] or [S3]) whose
// locations override those of [PROJECT].
type Mode string

// The modes.
const (
	ModeLocal Mode = "LOCAL"
	ModeS3    Mode = "S3"
)

// AWS holds the credentials and endpoint settings of the [AWS] section. Empty fields mean "not
// configured here": the storage package then falls back to the AWS SDK's own defaults.
type AWS struct {
	AccessKeyID     string
	SecretAccessKey Secret
	SessionToken    Secret
	Region          string // optional
	Endpoint        string // optional custom S3 endpoint URL, e.g. a local MinIO
	PathStyle       *bool  // nil = the SDK's default
}

// Job is the validated configuration of one run.
type Job struct {
	ConfigFile       string  // the file read, "" if none
	Mode             Mode    // default ModeLocal
	Songs, Logs      string  // input roots; "" means the built-in sample (the caller decides)
	Output           string  // default "out"
	Workers          int     // default runtime.NumCPU(); at least 1
	MaxRejectedRatio float64 // default 0.01; within [0, 1]
	Compression      string  // snappy (default) | zstd | gzip | none
	S3Concurrency    int     // S3 requests in flight; 0 = the S3 client's default
	Engine           string  // local (default) | beam
	Runner           string  // the Beam runner when Engine is beam: prism (default), dataflow, flink, spark, universal
	Incremental      bool    // load only the input files the output has not loaded yet (default false)
	MemoryLimit      int64   // bytes the local engine may use; default DefaultMemoryLimit(); at least MinMemoryLimit
	TempDir          string  // an existing local folder for the local engine's spill files; "" = os.TempDir()
	AWS              AWS
}

// Defaults for settings that no source gives.
const (
	DefaultOutput           = "out"
	DefaultMaxRejectedRatio = 0.01
	DefaultCompression      = "snappy"
	DefaultEngine           = "local"
	DefaultRunner           = "prism"
)

// engines and runners are the values Engine and Runner may take.
var (
	engines = []string{"local", "beam"}
	runners = []string{"prism", "dataflow", "flink", "spark", "universal"}
)

// compressions are the Parquet codecs a Job may name.
var compressions = []string{"snappy", "zstd", "gzip", "none"}

// Inputs is everything Load reads besides the config file. Passing the environment as a function
// keeps Load free of process state, so tests run in parallel without t.Setenv.
type Inputs struct {
	ConfigPath string                      // from --config; "" = none given
	Flags      map[string]string           // only flags the user explicitly set, keyed by flag name without dashes
	LookupEnv  func(string) (string, bool) // os.LookupEnv in production; nil means no environment
}

// EnvConfig names the config file when Inputs.ConfigPath is "".
const EnvConfig = "SPARKIFY_CONFIG"

// setting is one Job field that a flag, the environment and [PROJECT] can all set.
type setting struct {
	flag     string // name without dashes
	env      string
	key      string // in [PROJECT]
	location bool   // also read from the section the mode names ([LOCAL] or [S3]), which wins
}

var (
	settingMode        = setting{"mode", "SPARKIFY_MODE", keyMode, false}
	settingSongs       = setting{"songs", "SPARKIFY_SONGS", keySongs, true}
	settingLogs        = setting{"logs", "SPARKIFY_LOGS", keyLogs, true}
	settingOutput      = setting{"output", "SPARKIFY_OUTPUT", keyOutput, true}
	settingWorkers     = setting{"workers", "SPARKIFY_WORKERS", keyWorkers, false}
	settingRatio       = setting{"max-rejected-ratio", "SPARKIFY_MAX_REJECTED_RATIO", keyRatio, false}
	settingCompression = setting{"compression", "SPARKIFY_COMPRESSION", keyCompression, false}
	settingS3Conc      = setting{"s3-concurrency", "SPARKIFY_S3_CONCURRENCY", keyS3Concurrency, false}
	settingEngine      = setting{"engine", "SPARKIFY_ENGINE", keyEngine, false}
	settingRunner      = setting{"runner", "SPARKIFY_RUNNER", keyRunner, false}
	settingIncremental = setting{"incremental", "SPARKIFY_INCREMENTAL", keyIncremental, false}
	settingMemLimit    = setting{"memory-limit", "SPARKIFY_MEMORY_LIMIT", keyMemoryLimit, false}
	settingTempDir     = setting{"temp-dir", "SPARKIFY_TEMP_DIR", keyTempDir, false}

	allSettings = []setting{settingMode, settingSongs, settingLogs, settingOutput, settingWorkers,
		settingRatio, settingCompression, settingS3Conc, settingEngine, settingRunner, settingIncremental,
		settingMemLimit, settingTempDir}
)

// flagConfig may appear in Inputs.Flags too, for callers that pass every set flag; ConfigPath wins.
const flagConfig = "config"

// Load builds the Job from in and the config file it names.
//
// Each setting comes from, in order of precedence: its flag, its SPARKIFY_* variable, the
// section named by the mode ([LOCAL] or [S3], locations only), [PROJECT], the default. Every value
// present in any of these must be valid, even one that is overridden. An environment variable or
// file key whose value is empty counts as absent; an empty flag is taken as given (so --songs=""
// selects the built-in sample even when SPARKIFY_SONGS is set).
//
// Errors about settings or file contents wrap ErrInvalid (and are *Error); an unreadable file
// yields an error that wraps the fs error and names the path.
func Load(in Inputs) (Job, error) {
	if err := checkFlagNames(in.Flags); err != nil {
		return Job{}, err
	}

	path, origin := configPath(in)
	var fc *fileConfig
	if path != "" {
		var err error
		if fc, err = readFile(path); err != nil {
			if errors.Is(err, ErrInvalid) {
				return Job{}, err
			}
			return Job{}, fmt.Errorf("read config file named by %s: %w", origin, err)
		}
	}

	job := Job{ConfigFile: path}
	var err error
	// The mode comes first: it decides which section's locations apply.
	if job.Mode, err = resolve(candidates(settingMode, in, fc, ""), ModeLocal, parseMode); err != nil {
		return Job{}, err
	}
	if job.Songs, err = resolve(candidates(settingSongs, in, fc, job.Mode), "", parseInput); err != nil {
		return Job{}, err
	}
	if job.Logs, err = resolve(candidates(settingLogs, in, fc, job.Mode), "", parseInput); err != nil {
		return Job{}, err
	}
	if job.Output, err = resolve(candidates(settingOutput, in, fc, job.Mode), DefaultOutput, parseOutput); err != nil {
		return Job{}, err
	}
	if job.Workers, err = resolve(candidates(settingWorkers, in, fc, ""), runtime.NumCPU(), parseWorkers); err != nil {
		return Job{}, err
	}
	if job.MaxRejectedRatio, err = resolve(candidates(settingRatio, in, fc, ""), DefaultMaxRejectedRatio, parseRatio); err != nil {
		return Job{}, err
	}
	if job.Compression, err = resolve(candidates(settingCompression, in, fc, ""), DefaultCompression, parseCompression); err != nil {
		return Job{}, err
	}
	if job.S3Concurrency, err = resolve(candidates(settingS3Conc, in, fc, ""), 0, parseWorkers); err != nil {
		return Job{}, err
	}
	if job.Engine, err = resolve(candidates(settingEngine, in, fc, ""), DefaultEngine, oneOf("engine", engines)); err != nil {
		return Job{}, err
	}
	if job.Runner, err = resolve(candidates(settingRunner, in, fc, ""), DefaultRunner, oneOf("runner", runners)); err != nil {
		return Job{}, err
	}
	if job.Incremental, err = resolve(candidates(settingIncremental, in, fc, ""), false, parseBool); err != nil {
		return Job{}, err
	}
	if job.MemoryLimit, err = resolve(candidates(settingMemLimit, in, fc, ""), DefaultMemoryLimit(), parseMemoryLimit); err != nil {
		return Job{}, err
	}
	if job.TempDir, err = resolve(candidates(settingTempDir, in, fc, ""), "", parseTempDir); err != nil {
		return Job{}, err
	}
	if job.AWS, err = loadAWS(fc); err != nil {
		return Job{}, err
	}
	return job, nil
}

// checkFlagNames rejects a flag name Load does not know: it is a bug in the caller, and ignoring
// it would drop the user's setting without a word.
func checkFlagNames(flags map[string]string) error {
	known := []string{flagConfig}
	for _, s := range allSettings {
		known = append(known, s.flag)
	}
	names := make([]string, 0, len(flags))
	for name := range flags {
		names = append(names, name)
	}
	slices.Sort(names) // report the same one every time
	for _, name := range names {
		if slices.Contains(known, name) {
			continue
		}
		hint := ""
		if c := Suggest(name, known); c != "" {
			hint = fmt.Sprintf(" (did you mean --%s?)", c)
		}
		return &Error{Setting: "flag --" + name, Reason: "unknown flag" + hint}
	}
	return nil
}

// configPath returns the file to read and what named it ("" when none is named).
func configPath(in Inputs) (path, origin string) {
	if in.ConfigPath != "" {
		return in.ConfigPath, "--config"
	}
	if p := in.Flags[flagConfig]; p != "" {
		return p, "--config"
	}
	if p, ok := lookupEnv(in, EnvConfig); ok {
		return p, EnvConfig
	}
	return "", ""
}

// lookupEnv returns a non-blank environment variable. Blank counts as unset because shells and
// CI systems often define a variable as "" to mean "not configured".
func lookupEnv(in Inputs, name string) (string, bool) {
	if in.LookupEnv == nil {
		return "", false
	}
	v, ok := in.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return "", false
	}
	return v, true
}

// candidate is one source's raw value for a setting.
type candidate struct {
	raw   string
	file  string
	line  int
	label string // "flag --workers", "env SPARKIFY_WORKERS", "[PROJECT] WORKERS"
}

func (c candidate) fail(err error) error {
	return &Error{File: c.file, Line: c.line, Setting: c.label, Reason: err.Error()}
}

// candidates lists the values given for s, highest precedence first. mode selects the section
// whose locations override [PROJECT]; it is "" while the mode itself is being resolved.
func candidates(s setting, in Inputs, fc *fileConfig, mode Mode) []candidate {
	var cs []candidate
	if v, ok := in.Flags[s.flag]; ok {
		cs = append(cs, candidate{raw: v, label: "flag --" + s.flag})
	}
	if v, ok := lookupEnv(in, s.env); ok {
		cs = append(cs, candidate{raw: v, label: "env " + s.env})
	}
	sections := []string{sectionProject}
	if s.location && mode != "" {
		sections = []string{string(mode), sectionProject}
	}
	for _, sec := range sections {
		if v, ok := fc.get(sec, s.key); ok {
			cs = append(cs, candidate{raw: v.value, file: fc.path, line: v.line, label: "[" + sec + "] " + s.key})
		}
	}
	return cs
}

// resolve parses every candidate, so that a bad value is reported even when overridden, and
// returns the first one's value, or def when there are none.
func resolve[T any](cs []candidate, def T, parse func(string) (T, error)) (T, error) {
	v := def
	for i, c := range cs {
		x, err := parse(c.raw)
		if err != nil {
			return def, c.fail(err)
		}
		if i == 0 {
			v = x
		}
	}
	return v, nil
}

func parseMode(raw string) (Mode, error) {
	switch m := Mode(strings.ToUpper(strings.TrimSpace(raw))); m {
	case ModeLocal, ModeS3:
		return m, nil
	}
	return "", fmt.Errorf("invalid mode %q: want LOCAL or S3", raw)
}

// parseInput accepts any location, "" included (the built-in sample). Whether it exists, and
// what s3a:// means, is for the packages that open it.
func parseInput(raw string) (string, error) { return raw, nil }

func parseOutput(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("output location must not be empty")
	}
	return raw, nil
}

func parseWorkers(raw string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		return 0, fmt.Errorf("invalid number of workers %q: want a whole number, at least 1", raw)
	}
	if n < 1 {
		return 0, fmt.Errorf("%d workers: want at least 1", n)
	}
	return n, nil
}

func parseRatio(raw string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("invalid ratio %q: want a number from 0 to 1, such as 0.01", raw)
	}
	if f < 0 || f > 1 {
		return 0, fmt.Errorf("ratio %s is outside [0, 1] (a share, not a percentage: 0.01 is 1%%)", strings.TrimSpace(raw))
	}
	return f, nil
}

func parseCompression(raw string) (string, error) {
	c := strings.ToLower(strings.TrimSpace(raw))
	if slices.Contains(compressions, c) {
		return c, nil
	}
	return "", fmt.Errorf("unknown compression %q: want snappy, zstd, gzip or none", raw)
}

// oneOf parses a case-insensitive choice among values.
func oneOf(what string, values []string) func(string) (string, error) {
	return func(raw string) (string, error) {
		v := strings.ToLower(strings.TrimSpace(raw))
		if slices.Contains(values, v) {
			return v, nil
		}
		return "", fmt.Errorf("unknown %s %q: want %s", what, raw, strings.Join(values, ", "))
	}
}

// parseBool accepts what Python's configparser.getboolean accepts, as the reference project
// read dl.cfg with it.
func parseBool(raw string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "1", "yes", "true", "on":
		return true, nil
	case "0", "no", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid value %q: want true or false", raw)
}

// Memory limits, in bytes.
const (
	// MinMemoryLimit is the smallest memory limit accepted: under it the local engine would spend
	// its time spilling and the Go runtime its time collecting garbage.
	MinMemoryLimit int64 = 64 << 20
	// FallbackMemoryLimit is the default when this machine's memory cannot be read.
	FallbackMemoryLimit int64 = 4 << 30
)

// DefaultMemoryLimit is the memory limit when no source sets one: half of the memory this
// process may have (see detectMemoryLimit), read once.
func DefaultMemoryLimit() int64 { return defaultMemoryLimit() }

var defaultMemoryLimit = sync.OnceValue(func() int64 { return detectMemoryLimit(os.ReadFile) })

// The files detectMemoryLimit reads.
const (
	cgroupMemoryMax = "/sys/fs/cgroup/memory.max" // cgroup v2: a number of bytes, or "max"
	procMeminfo     = "/proc/meminfo"
)

// detectMemoryLimit returns half of the memory this process may have: the cgroup v2 limit when
// it is a number below MemTotal (a container's share of the machine), else MemTotal;
// FallbackMemoryLimit when neither can be read (not Linux); never less than MinMemoryLimit.
// Half, because the limit covers the run's data, not the page cache its reads and writes go
// through nor what else runs on the machine. readFile is os.ReadFile but in tests.
func detectMemoryLimit(readFile func(string) ([]byte, error)) int64 {
	var total int64
	if b, err := readFile(procMeminfo); err == nil {
		total = memTotal(b)
	}
	if b, err := readFile(cgroupMemoryMax); err == nil {
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (total == 0 || n < total) {
			total = n
		}
	}
	if total <= 0 {
		return FallbackMemoryLimit
	}
	return max(total/2, MinMemoryLimit)
}

// memTotal returns the MemTotal of /proc/meminfo's content, in bytes; 0 if it has none.
func memTotal(meminfo []byte) int64 {
	for line := range strings.Lines(string(meminfo)) {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 || kb > math.MaxInt64/1024 {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// sizeUnits maps a size's unit, upper-cased, to its bytes. The short K, M, G and T are binary,
// as in docker --memory and Java's -Xmx, where 8G means 8 GiB; KB, MB, GB and TB are decimal.
var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"K": 1 << 10, "KIB": 1 << 10, "KB": 1e3,
	"M": 1 << 20, "MIB": 1 << 20, "MB": 1e6,
	"G": 1 << 30, "GIB": 1 << 30, "GB": 1e9,
	"T": 1 << 40, "TIB": 1 << 40, "TB": 1e12,
}

// sizeHint is what a size may look like, for errors.
const sizeHint = "want a size such as 8GiB, 512MiB, 1.5GB or 1073741824 (bytes)"

// parseSize parses a number of bytes: a whole or decimal number, then optionally a space and a
// unit of sizeUnits in any case ("1.5GiB", "512 mb", "8G", "1048576"). A fraction of a byte is
// dropped.
func parseSize(raw string) (int64, error) {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("size %q is negative: %s", raw, sizeHint)
	}
	end := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end < 0 {
		end = len(s)
	}
	num, unit := s[:end], strings.ToUpper(strings.TrimSpace(s[end:]))
	whole, frac, _ := strings.Cut(num, ".")
	if whole+frac == "" || strings.Contains(frac, ".") {
		return 0, fmt.Errorf("invalid size %q: %s", raw, sizeHint)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q; want B, KiB, MiB, GiB, TiB (binary), KB, MB, GB, TB (decimal) or K, M, G, T (binary)",
			raw, strings.TrimSpace(s[end:]))
	}
	// Exact arithmetic: float64 would round 1.1GB, and could not tell an overflow from a limit.
	n, _ := new(big.Int).SetString(whole+frac, 10) // digits only, one at least
	n.Mul(n, big.NewInt(mult))
	n.Quo(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil))
	if !n.IsInt64() {
		return 0, fmt.Errorf("size %q is too large", raw)
	}
	return n.Int64(), nil
}

// parseMemoryLimit parses a size of at least MinMemoryLimit.
func parseMemoryLimit(raw string) (int64, error) {
	n, err := parseSize(raw)
	switch {
	case err != nil:
		return 0, err
	case n == 0:
		return 0, fmt.Errorf("size %q is zero: want at least 64MiB (there is no \"no limit\"; give a size)", raw)
	case n < MinMemoryLimit:
		return 0, fmt.Errorf("size %q is under the minimum, 64MiB", raw)
	}
	return n, nil
}

// parseTempDir accepts "" (the OS temp folder) or an existing local folder.
func parseTempDir(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", nil
	}
	if strings.Contains(raw, "://") {
		return "", fmt.Errorf("%q is not a local path: spill files go to a folder on this machine", raw)
	}
	fi, err := os.Stat(raw)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("folder %q does not exist", raw)
	case err != nil:
		reason := err.Error()
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			reason = pe.Err.Error() // the path is quoted already
		}
		return "", fmt.Errorf("folder %q cannot be used: %s", raw, reason)
	case !fi.IsDir():
		return "", fmt.Errorf("%q is not a folder", raw)
	}
	return raw, nil
}

// loadAWS reads [AWS]. These settings come from the file only: the AWS_* variables belong to the
// SDK's credential chain, and credentials do not belong on a command line.
func loadAWS(fc *fileConfig) (AWS, error) {
	var a AWS
	get := func(key string) (string, candidate) {
		v, _ := fc.get(sectionAWS, key)
		c := candidate{raw: v.value, line: v.line, label: "[" + sectionAWS + "] " + key}
		if fc != nil {
			c.file = fc.path
		}
		return v.value, c
	}

	a.AccessKeyID, _ = get(keyAccessKeyID)
	secret, secretC := get(keySecretKey)
	a.SecretAccessKey = NewSecret(secret)
	token, tokenC := get(keySessionToken)
	a.SessionToken = NewSecret(token)
	a.Region, _ = get(keyRegion)

	endpoint, endpointC := get(keyEndpoint)
	if endpoint != "" {
		if err := checkEndpoint(endpoint); err != nil {
			return AWS{}, endpointC.fail(err)
		}
		a.Endpoint = endpoint
	}

	if raw, c := get(keyPathStyle); raw != "" {
		b, err := parseBool(raw)
		if err != nil {
			return AWS{}, c.fail(err)
		}
		a.PathStyle = &b
	}

	// Half a key pair would make the SDK fail later with a less helpful message, or worse, fall
	// back to other credentials than the ones the user meant.
	idC := candidate{label: "[" + sectionAWS + "] " + keyAccessKeyID}
	if fc != nil {
		idC.file = fc.path
		idC.line = fc.values[sectionAWS][keyAccessKeyID].line
	}
	switch {
	case a.AccessKeyID != "" && secret == "":
		return AWS{}, idC.fail(fmt.Errorf("set, but %s is not: give both or neither", keySecretKey))
	case a.AccessKeyID == "" && secret != "":
		return AWS{}, secretC.fail(fmt.Errorf("set, but %s is not: give both or neither", keyAccessKeyID))
	case token != "" && a.AccessKeyID == "":
		return AWS{}, tokenC.fail(fmt.Errorf("set, but %s and %s are not: a session token goes with a key pair",
			keyAccessKeyID, keySecretKey))
	}
	return a, nil
}

// checkEndpoint requires an http(s) URL with a host. The error never quotes the value: a URL may
// carry user:password.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL with a host")
	}
	if u.User != nil {
		return errors.New("must not contain user or password; put credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	return nil
}

// LogValue implements slog.LogValuer; secrets show as "**redacted**".
func (a AWS) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("access_key_id", a.AccessKeyID),
		slog.String("secret_access_key", a.SecretAccessKey.String()),
		slog.String("session_token", a.SessionToken.String()),
		slog.String("region", a.Region),
		slog.String("endpoint", a.Endpoint),
	}
	if a.PathStyle != nil {
		attrs = append(attrs, slog.Bool("path_style", *a.PathStyle))
	}
	return slog.GroupValue(attrs...)
}

func (j Job) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("config_file", j.ConfigFile),
		slog.String("mode", string(j.Mode)),
		slog.String("songs", j.Songs),
		slog.String("logs", j.Logs),
		slog.String("output", j.Output),
		slog.Int("workers", j.Workers),
		slog.Float64("max_rejected_ratio", j.MaxRejectedRatio),
		slog.String("compression", j.Compression),
		slog.Bool("incremental", j.Incremental),
		slog.Int64("memory_limit", j.MemoryLimit),
		slog.String("temp_dir", j.TempDir),
		slog.Any("aws", j.AWS),
	}
}

// LogValue implements slog.LogValuer; secrets show as "**redacted**".
func (j Job) LogValue() slog.Value { return slog.GroupValue(j.attrs()...) }

// String renders the Job as slog's text handler would render its LogValue, so that a printed Job
// and a logged one read alike and are redacted by the same code.
func (j Job) String() string {
	var b strings.Builder
	h := slog.NewTextHandler(&b, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0) // the zero time is not printed
	r.AddAttrs(j.attrs()...)
	_ = h.Handle(context.Background(), r) // a strings.Builder does not fail
	return strings.TrimSuffix(b.String(), "\n")
}

var (
	_ slog.LogValuer = Job{}
	_ slog.LogValuer = AWS{}
	_ fmt.Stringer   = Job{}
)
