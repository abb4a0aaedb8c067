// Package config turns a dl.cfg file, SPARKIFY_* environment variables and command-line flags into
// one validated Job. For every setting a flag beats the environment, the environment beats the
// file, and the file beats the built-in default.
//
// The file is the reference project's INI format: an [AWS] section for credentials, a [PROJECT]
// section for the run, and optional [LOCAL] and [S3] sections whose SONG_DATA, LOG_DATA and
// OUTPUT_DATA override [PROJECT]'s when MODE names them. Section and key names are
// case-insensitive; values are trimmed and may be quoted; "KEY=value ; note" ends at " ;" or " #".
//
// What the package refuses to do, and why:
//
//   - It reads no file nobody named. A dl.cfg in the working directory is ignored unless --config
//     or SPARKIFY_CONFIG points at it, so a run never changes with the directory it starts in.
//   - It ignores nothing it does not understand. An unknown section or key is an error that names
//     the file and line and suggests the nearest valid name, because a misspelt OUTPUT_DATA would
//     otherwise send the tables to the default place without a word.
//   - It accepts no invalid value, even one that a higher-precedence source overrides: a typo in
//     dl.cfg should surface on the run that has it, not on a later run without the flag.
//   - It never shows a secret. Secret prints, logs and marshals as "**redacted**", and no error
//     quotes a line it could not parse, since that line may hold a key.
//   - Its only I/O is reading the one file, checking that --temp-dir is a folder and, once, the
//     machine's memory size (for --memory-limit's default); it never logs or prints.
//   - It leaves meaning to others: s3a:// and s3n:// stay as written (storage normalizes them), an
//     empty input root stays "" (the caller picks the built-in sample), and AWS_* environment
//     variables are not read here (the AWS SDK's own credential chain reads them when the file
//     gives no keys).
package config
