package config

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const (
	testKeyID  = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testToken  = "FwoGZXIvYXdzEXAMPLETOKEN/abc+def=="
)

// writeConfig writes content to dl.cfg in a fresh temporary folder and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dl.cfg")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// envOf returns a LookupEnv that sees only vars.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestEachSettingFollowsFlagEnvFileDefaultPrecedence(t *testing.T) {
	t.Parallel()
	fileDir, envDir, flagDir := t.TempDir(), t.TempDir(), t.TempDir()
	settings := []struct {
		flag, env, key             string
		file, envVal, flagVal      string
		get                        func(Job) any
		wantDef, wantFile, wantEnv any
		wantFlag                   any
	}{
		{"mode", "SPARKIFY_MODE", "MODE", "s3", "local", "S3",
			func(j Job) any { return j.Mode }, ModeLocal, ModeS3, ModeLocal, ModeS3},
		{"songs", "SPARKIFY_SONGS", "SONG_DATA", "file/songs", "env/songs", "flag/songs",
			func(j Job) any { return j.Songs }, "", "file/songs", "env/songs", "flag/songs"},
		{"logs", "SPARKIFY_LOGS", "LOG_DATA", "s3a://bucket/logs", "env/logs", "flag/logs",
			func(j Job) any { return j.Logs }, "", "s3a://bucket/logs", "env/logs", "flag/logs"},
		{"output", "SPARKIFY_OUTPUT", "OUTPUT_DATA", "file/out", "env/out", "flag/out",
			func(j Job) any { return j.Output }, "out", "file/out", "env/out", "flag/out"},
		{"workers", "SPARKIFY_WORKERS", "WORKERS", "3", "5", "7",
			func(j Job) any { return j.Workers }, runtime.NumCPU(), 3, 5, 7},
		{"max-rejected-ratio", "SPARKIFY_MAX_REJECTED_RATIO", "MAX_REJECTED_RATIO", "0.5", "0", "1",
			func(j Job) any { return j.MaxRejectedRatio }, 0.01, 0.5, 0.0, 1.0},
		{"compression", "SPARKIFY_COMPRESSION", "COMPRESSION", "ZSTD", "gzip", "none",
			func(j Job) any { return j.Compression }, "snappy", "zstd", "gzip", "none"},
		{"engine", "SPARKIFY_ENGINE", "ENGINE", "Beam", "local", "beam",
			func(j Job) any { return j.Engine }, "local", "beam", "local", "beam"},
		{"runner", "SPARKIFY_RUNNER", "RUNNER", "dataflow", "FLINK", "universal",
			func(j Job) any { return j.Runner }, "prism", "dataflow", "flink", "universal"},
		{"incremental", "SPARKIFY_INCREMENTAL", "INCREMENTAL", "true", "no", "true",
			func(j Job) any { return j.Incremental }, false, true, false, true},
		{"memory-limit", "SPARKIFY_MEMORY_LIMIT", "MEMORY_LIMIT", "1GiB", "512 mb", "1.5g",
			func(j Job) any { return j.MemoryLimit }, DefaultMemoryLimit(), int64(1 << 30), int64(512e6), int64(3 << 29)},
		{"temp-dir", "SPARKIFY_TEMP_DIR", "TEMP_DIR", fileDir, envDir, flagDir,
			func(j Job) any { return j.TempDir }, "", fileDir, envDir, flagDir},
	}
	for _, s := range settings {
		file := writeConfig(t, "[PROJECT]\n"+s.key+" = "+s.file+"\n")
		levels := []struct {
			name string
			in   Inputs
			want any
		}{
			{"default when nothing sets it", Inputs{}, s.wantDef},
			{"file beats default", Inputs{ConfigPath: file}, s.wantFile},
			{"env beats file", Inputs{ConfigPath: file, LookupEnv: envOf(map[string]string{s.env: s.envVal})}, s.wantEnv},
			{"flag beats env", Inputs{ConfigPath: file, LookupEnv: envOf(map[string]string{s.env: s.envVal}),
				Flags: map[string]string{s.flag: s.flagVal}}, s.wantFlag},
			{"blank env counts as unset", Inputs{ConfigPath: file, LookupEnv: envOf(map[string]string{s.env: " "})}, s.wantFile},
		}
		for _, l := range levels {
			t.Run(s.flag+"/"+l.name, func(t *testing.T) {
				t.Parallel()
				job, err := Load(l.in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got := s.get(job); got != l.want {
					t.Errorf("got %v (%T), want %v (%T)", got, got, l.want, l.want)
				}
			})
		}
	}
}

func TestModeSectionOverridesProjectLocations(t *testing.T) {
	t.Parallel()
	const base = `
[PROJECT]
SONG_DATA = project/songs
LOG_DATA  = project/logs
OUTPUT_DATA = project/out
%s
[LOCAL]
SONG_DATA = local/songs
OUTPUT_DATA = local/out

[S3]
SONG_DATA = s3://bucket/song_data
LOG_DATA = s3n://bucket/log_data
`
	tests := []struct {
		name                         string
		mode                         string // MODE line for [PROJECT]
		env, flags                   map[string]string
		wantMode                     Mode
		wantSongs, wantLogs, wantOut string
	}{
		{"default mode reads [LOCAL], then [PROJECT]", "", nil, nil,
			ModeLocal, "local/songs", "project/logs", "local/out"},
		{"file MODE=s3 reads [S3], then [PROJECT]", "MODE = s3", nil, nil,
			ModeS3, "s3://bucket/song_data", "s3n://bucket/log_data", "project/out"},
		{"env mode picks the section over file MODE", "MODE = LOCAL", map[string]string{"SPARKIFY_MODE": "S3"}, nil,
			ModeS3, "s3://bucket/song_data", "s3n://bucket/log_data", "project/out"},
		{"flag mode picks the section over env mode", "", map[string]string{"SPARKIFY_MODE": "S3"}, map[string]string{"mode": "local"},
			ModeLocal, "local/songs", "project/logs", "local/out"},
		{"env location beats the mode section", "MODE=S3", map[string]string{"SPARKIFY_SONGS": "env/songs"}, nil,
			ModeS3, "env/songs", "s3n://bucket/log_data", "project/out"},
		{"flag location beats the mode section", "", nil, map[string]string{"output": "flag/out", "songs": ""},
			ModeLocal, "", "project/logs", "flag/out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, fmt.Sprintf(base, tt.mode))
			job, err := Load(Inputs{ConfigPath: path, Flags: tt.flags, LookupEnv: envOf(tt.env)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if job.Mode != tt.wantMode || job.Songs != tt.wantSongs || job.Logs != tt.wantLogs || job.Output != tt.wantOut {
				t.Errorf("got mode=%s songs=%q logs=%q output=%q, want mode=%s songs=%q logs=%q output=%q",
					job.Mode, job.Songs, job.Logs, job.Output, tt.wantMode, tt.wantSongs, tt.wantLogs, tt.wantOut)
			}
			if job.ConfigFile != path {
				t.Errorf("got ConfigFile %q, want %q", job.ConfigFile, path)
			}
		})
	}
}

func TestFileSyntaxIsForgiving(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		check   func(Job) (got, want any)
	}{
		{"lower-case section and key names", "[project]\noutput_data=x\n",
			func(j Job) (any, any) { return j.Output, "x" }},
		{"double quotes stripped", "[PROJECT]\nOUTPUT_DATA = \"a b\"\n",
			func(j Job) (any, any) { return j.Output, "a b" }},
		{"single quotes stripped", "[PROJECT]\nOUTPUT_DATA='s3://b/o'\n",
			func(j Job) (any, any) { return j.Output, "s3://b/o" }},
		{"values trimmed", "[PROJECT]\nWORKERS =   4   \n",
			func(j Job) (any, any) { return j.Workers, 4 }},
		{"colon delimiter", "[PROJECT]\nOUTPUT_DATA: s3://b/o\n",
			func(j Job) (any, any) { return j.Output, "s3://b/o" }},
		{"comment after a space is dropped", "[PROJECT]\nWORKERS = 4 ; four cores\n",
			func(j Job) (any, any) { return j.Workers, 4 }},
		{"hash inside a value is kept", "[PROJECT]\nOUTPUT_DATA = out#1\n",
			func(j Job) (any, any) { return j.Output, "out#1" }},
		{"trailing backslash is no continuation", "[PROJECT]\nOUTPUT_DATA = C:\\out\\\nWORKERS=2\n",
			func(j Job) (any, any) { return j.Output + "|" + fmt.Sprint(j.Workers), `C:\out\|2` }},
		{"CRLF line ends and BOM", "\uFEFF[PROJECT]\r\nOUTPUT_DATA=x\r\n",
			func(j Job) (any, any) { return j.Output, "x" }},
		{"empty value counts as absent", "[PROJECT]\nOUTPUT_DATA=\nWORKERS=\"\"\n",
			func(j Job) (any, any) { return j.Output + fmt.Sprint(j.Workers), "out" + fmt.Sprint(runtime.NumCPU()) }},
		{"section header may be repeated", "[PROJECT]\nWORKERS=2\n[AWS]\n[project]\nOUTPUT_DATA=x\n",
			func(j Job) (any, any) { return j.Output + fmt.Sprint(j.Workers), "x2" }},
		{"comments and blank lines", "# sparkify\n\n; settings\n[PROJECT]\n  # indented comment\nMODE=s3\n",
			func(j Job) (any, any) { return j.Mode, ModeS3 }},
		{"REGION is an alias of AWS_REGION", "[aws]\nregion = eu-west-1\n",
			func(j Job) (any, any) { return j.AWS.Region, "eu-west-1" }},
		{"ENDPOINT_URL is an alias of AWS_ENDPOINT_URL", "[AWS]\nENDPOINT_URL=http://localhost:9000\n",
			func(j Job) (any, any) { return j.AWS.Endpoint, "http://localhost:9000" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job, err := Load(Inputs{ConfigPath: writeConfig(t, tt.content)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got, want := tt.check(job); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestAWSSectionIsReadWhole(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `[AWS]
AWS_ACCESS_KEY_ID = `+testKeyID+`
AWS_SECRET_ACCESS_KEY = '`+testSecret+`'
AWS_SESSION_TOKEN = `+testToken+`
AWS_REGION = us-west-2
AWS_ENDPOINT_URL = https://minio.example:9000
S3_PATH_STYLE = yes
`)
	job, err := Load(Inputs{ConfigPath: path})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	a := job.AWS
	if a.AccessKeyID != testKeyID || a.SecretAccessKey.Reveal() != testSecret || a.SessionToken.Reveal() != testToken ||
		a.Region != "us-west-2" || a.Endpoint != "https://minio.example:9000" || a.PathStyle == nil || !*a.PathStyle {
		t.Errorf("got %+v (secret %q, token %q), want every [AWS] key", a, a.SecretAccessKey.Reveal(), a.SessionToken.Reveal())
	}

	job, err = Load(Inputs{ConfigPath: writeConfig(t, "[AWS]\nS3_PATH_STYLE=false\n")})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if job.AWS.PathStyle == nil || *job.AWS.PathStyle {
		t.Errorf("got PathStyle %v, want false", job.AWS.PathStyle)
	}
	if job.AWS.SecretAccessKey.IsZero() != true {
		t.Errorf("got IsZero false for an unset secret, want true")
	}
}

func TestUnknownOrMisplacedNamesAreErrorsWithHint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		content  string
		wantLine int
		wantHint string
	}{
		{"misspelt key suggests the key", "[PROJECT]\nMODE=LOCAL\nOUTPU_DATA=out\n", 3,
			`unknown key "OUTPU_DATA" in [PROJECT] (did you mean OUTPUT_DATA?)`},
		{"swapped letters count as one edit", "[PROJECT]\nWROKERS=2\n", 2, "(did you mean WORKERS?)"},
		{"lower-case typo suggests canonical key", "[aws]\naws_secret_acess_key=x\n", 2, "(did you mean AWS_SECRET_ACCESS_KEY?)"},
		{"misspelt section suggests the section", "[PROJET]\n", 1, "unknown section [PROJET] (did you mean [PROJECT]?)"},
		{"unrelated section lists the valid ones", "[DEFAULT]\n", 1, "(want [AWS], [PROJECT], [LOCAL] or [S3])"},
		{"unrelated key lists the valid ones", "[LOCAL]\nFOO=1\n", 2, "(valid keys: SONG_DATA, LOG_DATA, OUTPUT_DATA)"},
		{"key in the wrong section says where it belongs", "[S3]\nWORKERS=2\n", 2, "(WORKERS belongs in [PROJECT])"},
		{"AWS key in [PROJECT] says where it belongs", "[PROJECT]\nregion=x\n", 2, "(REGION belongs in [AWS])"},
		{"key before any section", "MODE=S3\n", 1, `key "MODE" is outside any section (MODE belongs in [PROJECT])`},
		{"key given twice", "[PROJECT]\nWORKERS=1\nworkers=2\n", 3, "[PROJECT] WORKERS is set twice (first on line 2)"},
		{"alias and key given together", "[AWS]\nAWS_REGION=a\nREGION=b\n", 3, "[AWS] AWS_REGION is set twice (first on line 2)"},
		{"line without delimiter", "[PROJECT]\nWORKERS 4\n", 2, "(is the = missing after WORKERS?)"},
		{"unclosed section header", "\n[PROJECT\n", 2, "no closing ]"},
		{"multi-line value", "[PROJECT]\nOUTPUT_DATA=\"\"\"a\nb\"\"\"\n", 2, "multi-line values are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, tt.content)
			_, err := Load(Inputs{ConfigPath: path})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got error %v, want one wrapping ErrInvalid", err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got error %T, want *Error", err)
			}
			if e.File != path || e.Line != tt.wantLine {
				t.Errorf("got position %s:%d, want %s:%d", e.File, e.Line, path, tt.wantLine)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d: ", path, tt.wantLine)) {
				t.Errorf("got %q, want it to start with the file and line", err)
			}
			if !strings.Contains(err.Error(), tt.wantHint) {
				t.Errorf("got %q, want it to contain %q", err, tt.wantHint)
			}
		})
	}
}

func TestUnknownFlagNameIsAnError(t *testing.T) {
	t.Parallel()
	_, err := Load(Inputs{Flags: map[string]string{"worker": "2"}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want ErrInvalid", err)
	}
	if want := "(did you mean --workers?)"; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
}

func TestBadValuesAreErrorsNamingTheirSource(t *testing.T) {
	t.Parallel()
	type source int
	const (
		fromFlag source = iota
		fromEnv
		fromFile
	)
	dir := t.TempDir()
	missing, file := filepath.Join(dir, "missing"), filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	values := []struct {
		flag, env, key, section, value string
	}{
		{"mode", "SPARKIFY_MODE", "MODE", "PROJECT", "cloud"},
		{"workers", "SPARKIFY_WORKERS", "WORKERS", "PROJECT", "many"},
		{"workers", "SPARKIFY_WORKERS", "WORKERS", "PROJECT", "0"},
		{"workers", "SPARKIFY_WORKERS", "WORKERS", "PROJECT", "-3"},
		{"max-rejected-ratio", "SPARKIFY_MAX_REJECTED_RATIO", "MAX_REJECTED_RATIO", "PROJECT", "1.5"},
		{"max-rejected-ratio", "SPARKIFY_MAX_REJECTED_RATIO", "MAX_REJECTED_RATIO", "PROJECT", "-0.1"},
		{"max-rejected-ratio", "SPARKIFY_MAX_REJECTED_RATIO", "MAX_REJECTED_RATIO", "PROJECT", "NaN"},
		{"max-rejected-ratio", "SPARKIFY_MAX_REJECTED_RATIO", "MAX_REJECTED_RATIO", "PROJECT", "1%"},
		{"compression", "SPARKIFY_COMPRESSION", "COMPRESSION", "PROJECT", "lz4"},
		{"engine", "SPARKIFY_ENGINE", "ENGINE", "PROJECT", "spark"},
		{"runner", "SPARKIFY_RUNNER", "RUNNER", "PROJECT", "direct"},
		{"memory-limit", "SPARKIFY_MEMORY_LIMIT", "MEMORY_LIMIT", "PROJECT", "lots"},
		{"memory-limit", "SPARKIFY_MEMORY_LIMIT", "MEMORY_LIMIT", "PROJECT", "0"},
		{"memory-limit", "SPARKIFY_MEMORY_LIMIT", "MEMORY_LIMIT", "PROJECT", "-2GiB"},
		{"memory-limit", "SPARKIFY_MEMORY_LIMIT", "MEMORY_LIMIT", "PROJECT", "63MiB"},
		{"memory-limit", "SPARKIFY_MEMORY_LIMIT", "MEMORY_LIMIT", "PROJECT", "8 XB"},
		{"memory-limit", "SPARKIFY_MEMORY_LIMIT", "MEMORY_LIMIT", "PROJECT", "9000000TiB"},
		{"temp-dir", "SPARKIFY_TEMP_DIR", "TEMP_DIR", "PROJECT", "s3://bucket/tmp"},
		{"temp-dir", "SPARKIFY_TEMP_DIR", "TEMP_DIR", "PROJECT", missing},
		{"temp-dir", "SPARKIFY_TEMP_DIR", "TEMP_DIR", "PROJECT", file},
	}
	for _, v := range values {
		for _, src := range []source{fromFlag, fromEnv, fromFile} {
			var in Inputs
			var wantSetting string
			var wantLine int
			switch src {
			case fromFlag:
				in.Flags = map[string]string{v.flag: v.value}
				wantSetting = "flag --" + v.flag
			case fromEnv:
				in.LookupEnv = envOf(map[string]string{v.env: v.value})
				wantSetting = "env " + v.env
			case fromFile:
				in.ConfigPath = writeConfig(t, "# bad value below\n["+v.section+"]\n"+v.key+"="+v.value+"\n")
				wantSetting = "[" + v.section + "] " + v.key
				wantLine = 3
			}
			t.Run(wantSetting+"="+v.value, func(t *testing.T) {
				t.Parallel()
				_, err := Load(in)
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got error %v, want one wrapping ErrInvalid", err)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("got error %T, want *Error", err)
				}
				if e.Setting != wantSetting || e.File != in.ConfigPath || e.Line != wantLine {
					t.Errorf("got source %q %s:%d, want %q %s:%d", e.Setting, e.File, e.Line, wantSetting, in.ConfigPath, wantLine)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("got a multi-line error %q, want one line", err)
				}
			})
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	good := []struct {
		raw  string
		want int64
	}{
		{"1048576", 1 << 20},
		{" 67108864 ", 64 << 20},
		{"100B", 100},
		{"1KiB", 1 << 10}, {"1kib", 1 << 10}, {"1KB", 1000}, {"1kb", 1000}, {"1K", 1 << 10}, {"1k", 1 << 10},
		{"3MiB", 3 << 20}, {"3MB", 3e6}, {"3M", 3 << 20}, {"3m", 3 << 20},
		{"2GiB", 2 << 30}, {"2GB", 2e9}, {"2G", 2 << 30}, {"2gib", 2 << 30}, {"2Gb", 2e9},
		{"1TiB", 1 << 40}, {"1TB", 1e12}, {"1T", 1 << 40},
		{"1.5GiB", 3 << 29}, {"1.5 GiB", 3 << 29}, {"1.1GB", 1_100_000_000}, {".5G", 1 << 29}, {"2.GiB", 2 << 30},
		{"512 mb", 512e6}, {"8\tG", 8 << 30}, {"0.0000000001KiB", 0}, {"1.9", 1}, {"007MiB", 7 << 20},
		{"8388607TiB", 8388607 << 40},
	}
	for _, tt := range good {
		got, err := parseSize(tt.raw)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q): got %d, %v, want %d", tt.raw, got, err, tt.want)
		}
	}
	bad := []struct{ raw, want string }{
		{"", "want a size such as"},
		{"GiB", "want a size such as"},
		{"lots", "want a size such as"},
		{"1.2.3G", "want a size such as"},
		{"..5", "want a size such as"},
		{"+1G", "want a size such as"},
		{"1,5G", `unknown unit ",5G"`},
		{"1e9", `unknown unit "e9"`},
		{"8 XB", `unknown unit "XB"`},
		{"8Gi", `unknown unit "Gi"`},
		{"8 G B", `unknown unit "G B"`},
		{"1_000", `unknown unit "_000"`},
		{"-1", "is negative"},
		{"-2GiB", "is negative"},
		{"8388608TiB", "is too large"},
		{"9223372036854775808", "is too large"},
		{"99999999999999999999999999999999999999G", "is too large"},
	}
	for _, tt := range bad {
		_, err := parseSize(tt.raw)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseSize(%q): got %v, want an error containing %q", tt.raw, err, tt.want)
		}
	}
	for _, tt := range []struct{ raw, want string }{
		{"0", "is zero"}, {"0GiB", "is zero"}, {"1", "under the minimum, 64MiB"},
		{"67108863", "under the minimum, 64MiB"}, {"67MB", "under the minimum, 64MiB"}, {"lots", "want a size"},
	} {
		_, err := parseMemoryLimit(tt.raw)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseMemoryLimit(%q): got %v, want an error containing %q", tt.raw, err, tt.want)
		}
	}
	if got, err := parseMemoryLimit("64MiB"); err != nil || got != MinMemoryLimit {
		t.Errorf("parseMemoryLimit(64MiB): got %d, %v, want %d", got, err, MinMemoryLimit)
	}
}

func TestDefaultMemoryLimitIsHalfOfWhatTheProcessMayUse(t *testing.T) {
	t.Parallel()
	const meminfo16G = "MemTotal:       16777216 kB\nMemFree:         1000000 kB\n"
	tests := []struct {
		name            string
		meminfo, cgroup string // "" = the file cannot be read
		want            int64
	}{
		{"MemTotal without cgroup", meminfo16G, "", 8 << 30},
		{"cgroup without a limit", meminfo16G, "max\n", 8 << 30},
		{"cgroup limit below MemTotal", meminfo16G, "2147483648\n", 1 << 30},
		{"cgroup limit above MemTotal", meminfo16G, "68719476736\n", 8 << 30},
		{"cgroup limit without meminfo", "", "4294967296\n", 2 << 30},
		{"garbage cgroup", meminfo16G, "lots\n", 8 << 30},
		{"zero cgroup", meminfo16G, "0\n", 8 << 30},
		{"MemTotal not on the first line", "MemFree: 1 kB\nMemTotal: 2097152 kB\n", "", 1 << 30},
		{"MemTotal in another unit", "MemTotal: 2097152 MB\n", "", FallbackMemoryLimit},
		{"garbage MemTotal", "MemTotal: lots kB\n", "", FallbackMemoryLimit},
		{"overflowing MemTotal", "MemTotal: 9223372036854775807 kB\n", "", FallbackMemoryLimit},
		{"no MemTotal", "MemFree: 1 kB\n", "", FallbackMemoryLimit},
		{"neither readable", "", "", FallbackMemoryLimit},
		{"a tiny machine still gets the minimum", "MemTotal: 65536 kB\n", "", MinMemoryLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{procMeminfo: tt.meminfo, cgroupMemoryMax: tt.cgroup}
			read := func(path string) ([]byte, error) {
				if c := files[path]; c != "" {
					return []byte(c), nil
				}
				return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
			}
			if got := detectMemoryLimit(read); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	if got := DefaultMemoryLimit(); got < MinMemoryLimit {
		t.Errorf("DefaultMemoryLimit on this machine: got %d, want at least %d", got, MinMemoryLimit)
	}
}

func TestEmptyTempDirFlagMeansTheOSTempFolder(t *testing.T) {
	t.Parallel()
	job, err := Load(Inputs{Flags: map[string]string{"temp-dir": ""},
		LookupEnv: envOf(map[string]string{"SPARKIFY_TEMP_DIR": t.TempDir()})})
	if err != nil || job.TempDir != "" {
		t.Errorf("got %q, %v, want \"\" (the OS temp folder)", job.TempDir, err)
	}
}

func TestOtherInvalidSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		in          Inputs
		content     string
		wantSetting string
	}{
		{"empty --output", Inputs{Flags: map[string]string{"output": ""}}, "", "flag --output"},
		{"bad value overridden by a flag is still an error",
			Inputs{Flags: map[string]string{"workers": "2"}, LookupEnv: envOf(map[string]string{"SPARKIFY_WORKERS": "x"})},
			"", "env SPARKIFY_WORKERS"},
		{"bad MODE in the file under a mode flag", Inputs{Flags: map[string]string{"mode": "S3"}},
			"[PROJECT]\nMODE=hdfs\n", "[PROJECT] MODE"},
		{"bad S3_PATH_STYLE", Inputs{}, "[AWS]\nS3_PATH_STYLE=maybe\n", "[AWS] S3_PATH_STYLE"},
		{"bad MEMORY_LIMIT under a good flag", Inputs{Flags: map[string]string{"memory-limit": "1GiB"}},
			"[PROJECT]\nMEMORY_LIMIT=1MiB\n", "[PROJECT] MEMORY_LIMIT"},
		{"TEMP_DIR as an S3 location", Inputs{}, "[PROJECT]\nTEMP_DIR=s3a://bucket/tmp\n", "[PROJECT] TEMP_DIR"},
		{"endpoint without scheme", Inputs{}, "[AWS]\nAWS_ENDPOINT_URL=minio:9000\n", "[AWS] AWS_ENDPOINT_URL"},
		{"key id without secret", Inputs{}, "[AWS]\nAWS_ACCESS_KEY_ID=" + testKeyID + "\n", "[AWS] AWS_ACCESS_KEY_ID"},
		{"secret without key id", Inputs{}, "[AWS]\nAWS_SECRET_ACCESS_KEY=" + testSecret + "\n", "[AWS] AWS_SECRET_ACCESS_KEY"},
		{"token without key pair", Inputs{}, "[AWS]\nAWS_SESSION_TOKEN=" + testToken + "\n", "[AWS] AWS_SESSION_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			if tt.content != "" {
				in.ConfigPath = writeConfig(t, tt.content)
			}
			_, err := Load(in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got error %v, want one wrapping ErrInvalid", err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Setting != tt.wantSetting {
				t.Errorf("got %v, want an *Error from %q", err, tt.wantSetting)
			}
		})
	}
}

func TestConfigFileIsReadOnlyWhenNamed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.cfg")
	named := writeConfig(t, "[PROJECT]\nOUTPUT_DATA=from-env-file\n")
	big := writeConfig(t, "[PROJECT]\n"+strings.Repeat("# padding\n", maxFileSize/10+1))

	tests := []struct {
		name       string
		in         Inputs
		wantErr    error
		wantOutput string
	}{
		{"missing --config is fs.ErrNotExist", Inputs{ConfigPath: missing}, fs.ErrNotExist, ""},
		{"missing SPARKIFY_CONFIG is fs.ErrNotExist",
			Inputs{LookupEnv: envOf(map[string]string{"SPARKIFY_CONFIG": missing})}, fs.ErrNotExist, ""},
		{"SPARKIFY_CONFIG is read when --config is absent",
			Inputs{LookupEnv: envOf(map[string]string{"SPARKIFY_CONFIG": named})}, nil, "from-env-file"},
		{"--config beats SPARKIFY_CONFIG",
			Inputs{ConfigPath: named, LookupEnv: envOf(map[string]string{"SPARKIFY_CONFIG": missing})}, nil, "from-env-file"},
		{"a directory is a read error, not ErrInvalid", Inputs{ConfigPath: dir}, nil, ""},
		{"an oversized file is refused", Inputs{ConfigPath: big}, ErrInvalid, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job, err := Load(tt.in)
			switch {
			case tt.wantOutput != "":
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if job.Output != tt.wantOutput {
					t.Errorf("got output %q, want %q", job.Output, tt.wantOutput)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("got error %v, want one wrapping %v", err, tt.wantErr)
				}
			default:
				if err == nil || errors.Is(err, ErrInvalid) {
					t.Errorf("got error %v, want a read error", err)
				}
			}
			if err != nil && tt.in.ConfigPath != "" && !strings.Contains(err.Error(), tt.in.ConfigPath) {
				t.Errorf("got %q, want it to name %s", err, tt.in.ConfigPath)
			}
		})
	}
}

// Not parallel: it changes the working directory.
func TestDlCfgInWorkingDirectoryIsNotRead(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dl.cfg"), []byte("[PROJECT]\nOUTPUT_DATA=surprise\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	job, err := Load(Inputs{LookupEnv: envOf(nil)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if job.Output != "out" || job.ConfigFile != "" {
		t.Errorf("got output %q from %q, want %q from no file", job.Output, job.ConfigFile, "out")
	}
}

// loadWithSecrets returns a Job carrying every kind of secret.
func loadWithSecrets(t *testing.T) Job {
	t.Helper()
	path := writeConfig(t, "[AWS]\nAWS_ACCESS_KEY_ID="+testKeyID+"\nAWS_SECRET_ACCESS_KEY="+testSecret+
		"\nAWS_SESSION_TOKEN="+testToken+"\n")
	job, err := Load(Inputs{ConfigPath: path})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if job.AWS.SecretAccessKey.Reveal() != testSecret || job.AWS.SessionToken.Reveal() != testToken {
		t.Fatalf("got secrets %q, %q, want %q, %q",
			job.AWS.SecretAccessKey.Reveal(), job.AWS.SessionToken.Reveal(), testSecret, testToken)
	}
	return job
}

// checkRedacted fails when out shows a secret or fails to show the redaction marker.
func checkRedacted(t *testing.T, what, out string) {
	t.Helper()
	// %x of a Job hex-encodes its String, so look for the hex forms too.
	lower := strings.ToLower(out)
	for _, s := range []string{testSecret, testToken, "wJalr", "FwoGZX"} {
		if strings.Contains(out, s) || strings.Contains(lower, hex.EncodeToString([]byte(s))) {
			t.Errorf("%s: got %q, which contains a secret", what, out)
		}
	}
	if !strings.Contains(out, "**redacted**") && !strings.Contains(lower, hex.EncodeToString([]byte("**redacted**"))) {
		t.Errorf("%s: got %q, want **redacted**", what, out)
	}
}

func TestSecretsAreRedactedInFmt(t *testing.T) {
	t.Parallel()
	job := loadWithSecrets(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%20s", "%-20v", "%#q"} {
		for _, arg := range []struct {
			name string
			v    any
		}{
			{"Job", job}, {"*Job", &job}, {"AWS", job.AWS}, {"*AWS", &job.AWS},
			{"Secret", job.AWS.SecretAccessKey}, {"*Secret", &job.AWS.SecretAccessKey},
			{"[]Secret", []Secret{job.AWS.SessionToken}}, {"map", map[string]Secret{"k": job.AWS.SecretAccessKey}},
		} {
			checkRedacted(t, verb+" of "+arg.name, fmt.Sprintf(verb, arg.v))
		}
	}
	if got := job.String(); !strings.Contains(got, "access_key_id="+testKeyID) || !strings.Contains(got, "workers=") ||
		!strings.Contains(got, "memory_limit=") || !strings.Contains(got, "temp_dir=") {
		t.Errorf("got String %q, want the non-secret settings shown", got)
	}
	if got := fmt.Sprintf("%v|%s|%#v", Secret{}, NewSecret(""), Secret{}); got != "||" {
		t.Errorf("got %q for empty secrets, want %q", got, "||")
	}
}

func TestSecretsAreRedactedInSlog(t *testing.T) {
	t.Parallel()
	job := loadWithSecrets(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("start", "job", job, "secret", job.AWS.SessionToken)
	out := buf.String()
	checkRedacted(t, "slog JSON", out)

	var rec struct {
		Job struct {
			Workers int `json:"workers"`
			AWS     struct {
				AccessKeyID     string `json:"access_key_id"`
				SecretAccessKey string `json:"secret_access_key"`
				SessionToken    string `json:"session_token"`
			} `json:"aws"`
		} `json:"job"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("slog output %q is not JSON: %v", out, err)
	}
	if rec.Job.Workers != job.Workers || rec.Job.AWS.AccessKeyID != testKeyID ||
		rec.Job.AWS.SecretAccessKey != "**redacted**" || rec.Job.AWS.SessionToken != "**redacted**" || rec.Secret != "**redacted**" {
		t.Errorf("got %+v, want workers %d, key id %s and redacted secrets", rec, job.Workers, testKeyID)
	}

	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("start", "job", job)
	checkRedacted(t, "slog text", buf.String())
}

func TestSecretsAreRedactedInJSON(t *testing.T) {
	t.Parallel()
	job := loadWithSecrets(t)
	for _, v := range []any{job, &job, job.AWS, map[string]Secret{"k": job.AWS.SecretAccessKey}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		checkRedacted(t, fmt.Sprintf("json of %T", v), string(b))
	}
	b, err := json.Marshal(Secret{})
	if err != nil || string(b) != `""` {
		t.Errorf("got %s, %v for an empty secret, want \"\"", b, err)
	}
	text, err := job.AWS.SecretAccessKey.MarshalText()
	if err != nil || string(text) != "**redacted**" {
		t.Errorf("got MarshalText %q, %v, want **redacted**", text, err)
	}
}

func TestErrorsNeverContainSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
	}{
		{"secret without delimiter", "[AWS]\nAWS_SECRET_ACCESS_KEY " + testSecret + "\n"},
		{"token without delimiter but with = inside", "[AWS]\nAWS_SESSION_TOKEN " + testToken + "\n"},
		{"secret pasted alone", "[AWS]\n" + testSecret + "\n"},
		{"secret pasted as a section", "[" + testSecret + "]\n"},
		{"secret outside any section", "AWS_SECRET_ACCESS_KEY=" + testSecret + "\n"},
		{"secret in an unknown key", "[AWS]\nAWS_SECRET_KEY=" + testSecret + "\n"},
		{"secret in the wrong section", "[PROJECT]\nAWS_SECRET_ACCESS_KEY=" + testSecret + "\n"},
		{"secret given twice", "[AWS]\nAWS_SECRET_ACCESS_KEY=" + testSecret + "\nAWS_SECRET_ACCESS_KEY=" + testToken + "\n"},
		{"secret as multi-line value", "[AWS]\nAWS_SECRET_ACCESS_KEY=\"\"\"" + testSecret + "\n"},
		{"secret without key id", "[AWS]\nAWS_SECRET_ACCESS_KEY=" + testSecret + "\n"},
		{"token without key pair", "[AWS]\nAWS_SESSION_TOKEN=" + testToken + "\n"},
		{"endpoint with password", "[AWS]\nAWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=b\nAWS_ENDPOINT_URL=https://u:" + testSecret + "@minio\n"},
		{"bad endpoint holding a secret", "[AWS]\nAWS_ENDPOINT_URL=" + testSecret + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(Inputs{ConfigPath: writeConfig(t, tt.content)})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got error %v, want one wrapping ErrInvalid", err)
			}
			for _, s := range []string{testSecret, testToken, "wJalr", "FwoGZX"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("got %q, which contains a secret", err)
				}
			}
		})
	}
	// The hint that helps most with the first case names the key and nothing more.
	_, err := Load(Inputs{ConfigPath: writeConfig(t, tests[0].content)})
	if want := "(is the = missing after AWS_SECRET_ACCESS_KEY?)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to contain %q", err, want)
	}
}

func TestEditDistanceCountsSwapsAsOneEdit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "ABC", 3}, {"ABC", "ABC", 0}, {"OUTPU_DATA", "OUTPUT_DATA", 1},
		{"WROKERS", "WORKERS", 1}, {"KITTEN", "SITTING", 3}, {"CA", "ABC", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q): got %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q): got %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}
