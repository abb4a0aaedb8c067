package config

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/ini.v1"
)

// Section and key names of dl.cfg, as the reference project spells them.
const (
	sectionAWS     = "AWS"
	sectionProject = "PROJECT"
	sectionLocal   = "LOCAL" // equal to ModeLocal: the mode names the section that overrides
	sectionS3      = "S3"    // equal to ModeS3

	keyAccessKeyID  = "AWS_ACCESS_KEY_ID"
	keySecretKey    = "AWS_SECRET_ACCESS_KEY"
	keySessionToken = "AWS_SESSION_TOKEN"
	keyRegion       = "AWS_REGION"
	keyEndpoint     = "AWS_ENDPOINT_URL"
	keyPathStyle    = "S3_PATH_STYLE"

	keyMode          = "MODE"
	keySongs         = "SONG_DATA"
	keyLogs          = "LOG_DATA"
	keyOutput        = "OUTPUT_DATA"
	keyWorkers       = "WORKERS"
	keyRatio         = "MAX_REJECTED_RATIO"
	keyCompression   = "COMPRESSION"
	keyIncremental   = "INCREMENTAL"
	keyS3Concurrency = "S3_CONCURRENCY"
	keyEngine        = "ENGINE"
	keyRunner        = "RUNNER"
	keyMemoryLimit   = "MEMORY_LIMIT"
	keyTempDir       = "TEMP_DIR"
)

// sections lists the valid sections and their keys, in the order the documentation gives them
// (which is also the order in which ties between suggestions are broken).
var sections = []struct {
	name string
	keys []string
}{
	{sectionAWS, []string{keyAccessKeyID, keySecretKey, keySessionToken, keyRegion, keyEndpoint, keyPathStyle}},
	{sectionProject, []string{keyMode, keySongs, keyLogs, keyOutput, keyWorkers, keyRatio, keyCompression, keyS3Concurrency, keyEngine, keyRunner, keyIncremental,
		keyMemoryLimit, keyTempDir}},
	{sectionLocal, []string{keySongs, keyLogs, keyOutput}},
	{sectionS3, []string{keySongs, keyLogs, keyOutput}},
}

// aliases maps the short names that variants of the reference dl.cfg use to the canonical key.
// They are accepted in [AWS] only.
var aliases = map[string]string{
	"REGION":       keyRegion,
	"ENDPOINT_URL": keyEndpoint,
}

// maxFileSize bounds what Load reads, so that --config pointed at a device or a data file fails
// fast instead of filling memory. A real dl.cfg is a few hundred bytes.
const maxFileSize = 1 << 20

// namePattern is what a section or key name must look like before an error message may quote it.
// Anything else could be a credential pasted on the wrong line, so it is referred to by line only.
var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

func sectionKeys(section string) []string {
	for _, s := range sections {
		if s.name == section {
			return s.keys
		}
	}
	return nil
}

func sectionNames() []string {
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = s.name
	}
	return names
}

// canonicalKey returns the canonical spelling of key in section, or "" if the section has no such
// key.
func canonicalKey(section, key string) string {
	key = strings.ToUpper(key)
	if section == sectionAWS {
		if c, ok := aliases[key]; ok {
			return c
		}
	}
	if slices.Contains(sectionKeys(section), key) {
		return key
	}
	return ""
}

// fileValue is one setting read from the file.
type fileValue struct {
	value string
	line  int
}

// fileConfig is a parsed, structurally valid dl.cfg. Its values are not yet validated: that
// happens in Load, which knows whether a flag or the environment overrides them.
type fileConfig struct {
	path   string
	values map[string]map[string]fileValue // canonical section → canonical key → value
}

// get returns a setting from the file. An empty value counts as absent: the reference dl.cfg is a
// template whose unused keys are left blank. get is safe on a nil *fileConfig (no file).
func (fc *fileConfig) get(section, key string) (fileValue, bool) {
	if fc == nil {
		return fileValue{}, false
	}
	v, ok := fc.values[section][key]
	return v, ok && v.value != ""
}

// readFile reads and parses the config file at path. A file that cannot be read yields the os
// error unchanged (a *fs.PathError naming path); a file that is wrong yields an *Error.
func readFile(path string) (*fileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: path, Reason: "larger than 1 MiB; is this the right file?"}
	}
	return parseFile(path, data)
}

// entry is one key line found by scan: where it is, how it is written, what it means.
type entry struct {
	line               int
	rawSection, rawKey string // as written, to look the value up in the ini.File
	section, key       string // canonical
}

// parseFile validates the structure of data and returns its values.
//
// The ini package parses values (quotes, inline comments, BOM), but it keeps no line numbers,
// merges sections that differ only in case, lets a repeated key silently win, and echoes bad
// lines in its errors. So scan walks the lines first, with the same rules for where sections and
// keys begin, and does all the checking; ini then only supplies the values of lines scan accepted.
func parseFile(path string, data []byte) (*fileConfig, error) {
	entries, err := scan(path, data)
	if err != nil {
		return nil, err
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		// Python's configparser, which read the reference dl.cfg, has no backslash continuation,
		// and a Windows path may end in a backslash.
		IgnoreContinuation: true,
		// A comment after a value needs a space before it, so a "#" or ";" inside a secret or a
		// URL stays part of the value.
		SpaceBeforeInlineComment: true,
	}, data)
	if err != nil {
		// Not expected after scan; ini's message would quote the line, which may hold a secret.
		return nil, &Error{File: path, Reason: "cannot parse as INI"}
	}
	fc := &fileConfig{path: path, values: map[string]map[string]fileValue{}}
	for _, e := range entries {
		var k *ini.Key
		sec, err := f.GetSection(e.rawSection)
		if err == nil {
			k, err = sec.GetKey(e.rawKey)
		}
		if err != nil {
			return nil, &Error{File: path, Line: e.line, Reason: "cannot parse as INI"}
		}
		if fc.values[e.section] == nil {
			fc.values[e.section] = map[string]fileValue{}
		}
		fc.values[e.section][e.key] = fileValue{value: strings.TrimSpace(k.String()), line: e.line}
	}
	return fc, nil
}

// scan checks every line of data: each is blank, a comment, a known [SECTION] or a known
// KEY=VALUE (or KEY: VALUE) inside a section, and no key is given twice in one section.
func scan(path string, data []byte) ([]entry, error) {
	fail := func(line int, format string, args ...any) error {
		return &Error{File: path, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	text := string(data)
	for strings.HasPrefix(text, "\uFEFF") { // editors on Windows add a BOM; ini skips it too
		text = text[len("\uFEFF"):]
	}
	var (
		entries             []entry
		section, rawSection string
		seen                = map[[2]string]entry{} // canonical section, key → first entry
	)
	for i, l := range strings.Split(text, "\n") {
		n := i + 1
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}

		if t[0] == '[' {
			end := strings.LastIndexByte(t, ']')
			if end < 0 {
				return nil, fail(n, "malformed section header: no closing ]")
			}
			if rest := strings.TrimSpace(t[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
				return nil, fail(n, "malformed section header: text after ]")
			}
			raw := t[1:end]
			name := strings.TrimSpace(raw)
			if !namePattern.MatchString(name) {
				return nil, fail(n, "malformed section name: want [AWS], [PROJECT], [LOCAL] or [S3]")
			}
			canon := strings.ToUpper(name)
			if sectionKeys(canon) == nil {
				return nil, fail(n, "unknown section [%s]%s", name, suggestSection(name))
			}
			section, rawSection = canon, raw
			continue
		}

		d := strings.IndexAny(t, "=:")
		if d < 0 {
			return nil, fail(n, "malformed line: want KEY=VALUE, a [SECTION] or a # comment%s",
				missingDelimiterHint(t, section))
		}
		rawKey := strings.TrimSpace(t[:d])
		if !namePattern.MatchString(rawKey) {
			return nil, fail(n, "malformed line: the text before = or : is not a key name%s",
				missingDelimiterHint(t[:d], section))
		}
		if section == "" {
			return nil, fail(n, "key %q is outside any section%s", rawKey, belongsHint(rawKey, ""))
		}
		key := canonicalKey(section, rawKey)
		if key == "" {
			return nil, fail(n, "unknown key %q in [%s]%s", rawKey, section, suggestKey(rawKey, section))
		}
		// ini treats a value opening with """ or ` as running on to later lines. configparser
		// has no such thing, and scan would check those lines as keys, so refuse them.
		v := strings.TrimSpace(t[d+1:])
		if (strings.HasPrefix(v, `"""`) && !strings.Contains(v[3:], `"""`)) ||
			(strings.HasPrefix(v, "`") && !strings.Contains(v[1:], "`")) {
			return nil, fail(n, "[%s] %s: multi-line values are not supported", section, key)
		}
		id := [2]string{section, key}
		if first, dup := seen[id]; dup {
			return nil, fail(n, "[%s] %s is set twice (first on line %d)", section, key, first.line)
		}
		e := entry{line: n, rawSection: rawSection, rawKey: rawKey, section: section, key: key}
		seen[id] = e
		entries = append(entries, e)
	}
	return entries, nil
}

// suggestSection returns a " (did you mean [X]?)" hint, or the list of valid sections.
func suggestSection(name string) string {
	if c := Suggest(name, sectionNames()); c != "" {
		return fmt.Sprintf(" (did you mean [%s]?)", c)
	}
	return " (want [AWS], [PROJECT], [LOCAL] or [S3])"
}

// suggestKey explains an unknown key: it belongs in another section, or it is a misspelling of a
// key of this one, or else here are the valid keys.
func suggestKey(key, section string) string {
	if h := belongsHint(key, section); h != "" {
		return h
	}
	candidates := slices.Clone(sectionKeys(section))
	if section == sectionAWS {
		for alias := range aliases {
			candidates = append(candidates, alias)
		}
		slices.Sort(candidates[len(sectionKeys(section)):]) // map order must not pick the hint
	}
	if c := Suggest(key, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %s?)", c)
	}
	return " (valid keys: " + strings.Join(sectionKeys(section), ", ") + ")"
}

// belongsHint returns " (X belongs in [S])" when key is valid in a section other than section.
func belongsHint(key, section string) string {
	var in []string
	for _, s := range sections {
		if s.name != section && canonicalKey(s.name, key) != "" {
			in = append(in, "["+s.name+"]")
		}
	}
	if len(in) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s belongs in %s)", strings.ToUpper(key), strings.Join(in, ", "))
}

// missingDelimiterHint names the key a malformed line starts with, if it starts with one, since
// the usual cause is "AWS_SECRET_ACCESS_KEY abc..." with the = forgotten. Only a known key name
// is quoted, never the rest of the line.
func missingDelimiterHint(text, section string) string {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return ""
	}
	known := ""
	for _, s := range sections {
		if (section == "" || s.name == section) && canonicalKey(s.name, fields[0]) != "" {
			known = strings.ToUpper(fields[0])
			break
		}
	}
	if known == "" {
		return ""
	}
	return fmt.Sprintf(" (is the = missing after %s?)", known)
}
