package table

import "testing"

func TestEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain ids are unchanged", "AR5KOSW1187FB35FF4", "AR5KOSW1187FB35FF4"},
		{"empty is NULL, the default partition", "", DefaultPartition},
		{"slash and equals are escaped as Spark does", "a/b=c", "a%2Fb%3Dc"},
		{"percent is escaped so the escape is reversible", "100%", "100%25"},
		{"control characters are escaped", "a\tb\x7f", "a%09b%7F"},
		{"Hive specials are escaped", `"#'*:?\{[]^`, "%22%23%27%2A%3A%3F%5C%7B%5B%5D%5E"},
		{"spaces and non-ASCII are kept, as Spark keeps them on Linux", "Björk Guðmundsdóttir", "Björk Guðmundsdóttir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPartitions(t *testing.T) {
	tests := []struct {
		name string
		row  Partitioned
		want string
	}{
		{"songplays by year and unpadded month", &Songplay{Year: 2018, Month: 1}, "year=2018/month=1"},
		{"songs of unknown year go to the default partition", &Song{Year: 0, ArtistID: "AR1"}, "year=__HIVE_DEFAULT_PARTITION__/artist_id=AR1"},
		{"songs by year and escaped artist", &Song{Year: 1999, ArtistID: "A/B"}, "year=1999/artist_id=A%2FB"},
		{"time by year and month", &Time{Year: 2019, Month: 12}, "year=2019/month=12"},
		{"users are not partitioned", &User{}, ""},
		{"artists are not partitioned", &Artist{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.row.Partition(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
