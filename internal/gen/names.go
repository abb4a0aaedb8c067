package gen

import (
	"math/rand/v2"
	"strings"
)

// The vocabularies below are made up for the generator (or are everyday words and place names);
// nothing is taken from the real data set. They are varied on purpose: accents, CJK, emoji, '/',
// '"' and '\' exercise the escaping and UTF-8 handling of every reader.

var firstNamesF = []string{
	"Ava", "Bella", "Chloe", "Daisy", "Elena", "Fiona", "Grace", "Hazel", "Iris", "Jade",
	"Kara", "Lena", "Maya", "Nora", "Olive", "Paige", "Quinn", "Rosa", "Sadie", "Tessa",
	"Uma", "Vera", "Wren", "Ximena", "Yara", "Zoe", "Amelia", "Brooke", "Carmen", "Delia",
	"Erin", "Freya", "Gemma", "Holly", "Ivy", "June", "Kelsey", "Lila", "Mabel", "Nadia",
}

var firstNamesM = []string{
	"Aaron", "Blake", "Caleb", "Dante", "Eli", "Felix", "Gavin", "Hugo", "Ian", "Jasper",
	"Kai", "Liam", "Miles", "Noah", "Owen", "Peter", "Reid", "Silas", "Theo", "Victor",
	"Wade", "Xavier", "Yusuf", "Zane", "Abel", "Bruno", "Cyrus", "Dean", "Emmett", "Flynn",
	"Grant", "Heath", "Isaac", "Jonah", "Kurt", "Leon", "Marco", "Nico", "Oscar", "Rhys",
}

var lastNames = []string{
	"Abbott", "Barker", "Castillo", "Dawson", "Ellison", "Fletcher", "Garza", "Holloway", "Ingram",
	"Jennings", "Keller", "Lambert", "Mercer", "Nolan", "Ortega", "Pruitt", "Quintero", "Ramsey",
	"Sutton", "Tanner", "Underwood", "Vance", "Whitaker", "Yates", "Zamora", "Archer", "Bishop",
	"Crane", "Donovan", "Everett", "Frost", "Griffin", "Hale", "Irwin", "Jordan", "Knox", "Lowe",
	"Maddox", "Nash", "Osborne", "Pierce", "Rhodes", "Sloan", "Thorne", "Vaughn", "Walsh", "Wolfe",
	"Booker", "Carver", "Dalton", "Emerson", "Finch", "Gentry", "Harper", "Lacey", "Monroe",
}

// Names with non-ASCII letters, for artists only (the users of the real log are plain ASCII).
var accentedFirst = []string{
	"Renée", "José", "Björn", "Zoë", "François", "Łukasz", "Søren", "Inés", "Jürgen", "Anaïs",
	"Çelik", "Dóra", "Håkon", "Ñico", "Émile", "Željko", "Ångela", "Mihály",
}

var accentedLast = []string{
	"Møller", "Gómez", "Dvořák", "Núñez", "Škoda", "Müller", "Lefèvre", "Ødegaard", "Ólafsson",
	"Pérez", "Kovačić", "Strauß", "Böhm", "Açar", "Sánchez", "Łęcka",
}

var cjkNames = []string{
	"坂本 美咲", "山田 花子", "周 杰", "李 小龍", "王 菲菲", "佐藤 健", "鈴木 一郎", "방 시혁", "김 민지",
	"星野 源", "椎名 林檎", "陳 奕", "이 하늘", "高橋 光", "中島 みゆ",
}

var emoji = []string{"🔥", "✨", "🎸", "🌙", "💿", "🎧", "⚡", "🌊"}

var adjectives = []string{
	"Silver", "Broken", "Electric", "Velvet", "Hollow", "Golden", "Midnight", "Crimson", "Quiet",
	"Wild", "Neon", "Paper", "Lonely", "Burning", "Frozen", "Little", "Savage", "Gentle", "Lucky",
	"Restless", "Cosmic", "Rusty", "Sleepy", "Northern", "Southern", "Hidden", "Pale", "Static",
	"Sweet", "Bitter", "Secret", "Glass", "Distant", "Radiant", "Faded", "Atomic", "Wandering",
	"Scarlet", "Rolling", "Shining",
}

var nouns = []string{
	"Wolves", "Rivers", "Engines", "Shadows", "Pilots", "Ghosts", "Mirrors", "Machines", "Lanterns",
	"Sparrows", "Tigers", "Strangers", "Satellites", "Harbors", "Canyons", "Kings", "Daughters",
	"Brothers", "Heroes", "Comets", "Owls", "Bandits", "Sailors", "Dreamers", "Giants", "Horses",
	"Echoes", "Anchors", "Foxes", "Ravens", "Thieves", "Drifters", "Monks", "Spirits", "Lions",
	"Magnets", "Rockets", "Saints", "Vandals", "Wizards",
}

var titleWords = []string{
	"Love", "Night", "Heart", "Fire", "Rain", "Summer", "Road", "Dream", "Light", "Dance", "Money",
	"Time", "Home", "Blue", "River", "Girl", "Boy", "City", "Sky", "Gold", "Morning", "Shadow",
	"Stone", "Train", "Ocean", "Star", "Wind", "Lies", "Tears", "Kiss", "Sugar", "Highway", "Angel",
	"Devil", "Winter", "Thunder", "Memory", "Echo", "Paradise", "Freedom", "Midnight", "Window",
	"Letter", "Promise", "Secret", "Garden", "Island", "Mountain", "Desert", "Mirror", "Engine",
	"Radio", "Silence", "Storm", "Fever", "Honey", "Wild", "Slow", "Fast", "Lost", "Found", "Young",
	"Old", "Cold", "Hot", "Sweet", "Bad", "Good", "Little", "Big", "Last", "First", "Only", "Never",
	"Always", "Forever", "Tonight", "Tomorrow", "Yesterday", "Again", "Away", "Down", "Up", "Over",
	"Under", "Inside", "Outside", "Back", "Together", "Alone", "Crazy", "Lonely", "Happy", "Broken",
	"Burning", "Falling", "Running", "Dancing", "Waiting", "Dreaming", "Shine", "Fly", "Run", "Hold",
	"Stay", "Go", "Come", "Walk", "Talk", "Sing", "Cry", "Smile", "Believe", "Remember", "Forget",
}

var titleSmall = []string{"of", "the", "in", "on", "my", "your", "to", "and", "for", "with", "a"}

var titleSuffixes = []string{
	" (Live)", " (Remix)", " (Album Version)", " (Acoustic)", " (Radio Edit)", " (Demo)",
	" (Remastered)", " (Instrumental)", " (feat. Kai Mercer)", " - Single Version",
}

// Non-English titles, some with accents or in CJK.
var foreignTitles = []string{
	"Corazón Partido", "La Canción del Mar", "Für Immer", "Mañana Será", "Ça Ira", "Saudade",
	"Noche de Verão", "Été Indien", "Kärlek", "Sødme", "夜空の星", "사랑의 노래", "月亮代表", "Ánimo",
	"Über den Wolken", "Niña Bonita", "Déjà Vu", "Smörgåsbord",
}

// Titles that many artists use: a join on the title alone must go wrong on them.
var commonTitles = []string{
	"Intro", "Outro", "Interlude", "Home", "Untitled", "Hello", "Forever", "Reprise", "Stay", "Skit",
}

// Places with approximate coordinates, for artists.
var places = []struct {
	name     string
	lat, lon int64 // hundredths of a degree
}{
	{"Nashville, TN", 3616, -8678}, {"London, UK", 5151, -13}, {"Los Angeles, CA", 3405, -11824},
	{"New York City, New York", 4071, -7401}, {"Chicago, Illinois", 4188, -8763}, {"Austin, TX", 3027, -9774},
	{"Seattle, WA", 4761, -12233}, {"Detroit, MI", 4233, -8305}, {"Atlanta, GA", 3375, -8439},
	{"Montréal, Québec", 4550, -7357}, {"Toronto, Canada", 4365, -7938},
	{"São Paulo, Brasil", -2355, -4663}, {"Reykjavík, Iceland", 6415, -2194},
	{"Berlin, Germany", 5252, 1340}, {"Paris, France", 4886, 235}, {"Stockholm, Sweden", 5933, 1807},
	{"Tokyo, Japan", 3568, 13969}, {"東京都", 3569, 13969}, {"Seoul, Korea", 3757, 12698},
	{"Kingston, Jamaica", 1802, -7680}, {"Lagos, Nigeria", 652, 338}, {"Sydney, Australia", -3387, 15121},
	{"Dublin, Ireland", 5335, -626}, {"Glasgow, Scotland", 5586, -425}, {"Manchester, England", 5348, -224},
	{"Bristol, UK", 5145, -259}, {"Minneapolis, MN", 4498, -9327}, {"New Orleans, LA", 2995, -9007},
	{"Memphis, Tennessee", 3515, -9005}, {"Bogotá, Colombia", 471, -7407}, {"Mexico City, México", 1943, -9913},
	{"Havana, Cuba", 2311, -8237}, {"Oslo, Norway", 5991, 1075}, {"Cape Town, South Africa", -3392, 1842},
	{"Brooklyn, NY", 4068, -7394}, {"Oakland, CA", 3780, -12227}, {"Athens, GA", 3396, -8338},
	{"Bakersfield, CA", 3537, -11902}, {"Vancouver, BC, Canada", 4928, -12312}, {"Kraków, Polska", 5006, 1994},
}

// Metropolitan areas in the style of the log's user locations.
var userLocations = []string{
	"Fresno, CA", "Denver-Aurora-Lakewood, CO", "Boston-Cambridge-Newton, MA-NH",
	"El Paso, TX", "Jacksonville, FL",
	"Provo-Orem, UT", "Asheville, NC", "Columbus, OH", "Kansas City, MO-KS", "Tucson, AZ",
	"Redding, CA", "Pittsburgh, PA", "Roanoke, VA", "Omaha-Council Bluffs, NE-IA",
	"Albany-Schenectady-Troy, NY", "Madison, WI", "Spokane-Spokane Valley, WA", "Knoxville, TN",
	"Las Vegas-Henderson-Paradise, NV", "Baltimore-Columbia-Towson, MD", "Ocala, FL",
	"Springfield, MO", "Cleveland-Elyria, OH", "Huntsville, AL", "Boise City, ID",
	"Bakersfield, CA", "Anchorage, AK", "Honolulu, HI", "Des Moines-West Des Moines, IA", "Bend-Redmond, OR",
}

// User agents; the ones with a comma are written inside literal quotes, as in the real log.
var userAgents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/39.0.2171.71 Safari/537.36",
	"Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/38.0.2125.122 Safari/537.36",
	"Mozilla/5.0 (Windows NT 6.3; Win64; x64; rv:33.0) Gecko/20100101 Firefox/33.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.10; rv:34.0) Gecko/20100101 Firefox/34.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 8_1 like Mac OS X) AppleWebKit/600.1.4 (KHTML, like Gecko) Version/8.0 Mobile/12B411 Safari/600.1.4",
	"Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:33.0) Gecko/20100101 Firefox/33.0",
	"Mozilla/5.0 (Windows NT 6.3; Trident/7.0; Touch; rv:11.0) like Gecko",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/600.2.5 (KHTML, like Gecko) Version/8.0.2 Safari/600.2.5",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/39.0.2171.95 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/39.0.2171.65 Chrome/39.0.2171.65 Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 8_1_2 like Mac OS X) AppleWebKit/600.1.4 (KHTML, like Gecko) Version/8.0 Mobile/12B440 Safari/600.1.4",
	"Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0; Touch)",
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// chance reports true with probability perMille/1000.
func chance(r *rand.Rand, perMille int) bool { return r.IntN(1000) < perMille }

// artistName makes one artist name. Uniqueness is the caller's business.
func artistName(r *rand.Rand) string {
	switch n := r.IntN(100); {
	case n < 30: // a person
		if r.IntN(2) == 0 {
			return pick(r, firstNamesF) + " " + pick(r, lastNames)
		}
		return pick(r, firstNamesM) + " " + pick(r, lastNames)
	case n < 50:
		return "The " + pick(r, adjectives) + " " + pick(r, nouns)
	case n < 62:
		return pick(r, adjectives) + " " + pick(r, nouns)
	case n < 68:
		return pick(r, firstNamesM) + " " + pick(r, lastNames) + " & The " + pick(r, nouns)
	case n < 72:
		return pick(r, firstNamesF) + " " + pick(r, lastNames) + " featuring " + pick(r, firstNamesM) + " " + pick(r, lastNames)
	case n < 75:
		return "DJ " + pick(r, adjectives)
	case n < 77:
		return pick(r, nouns) + "/" + pick(r, nouns) // a slash, as in "AC/DC"
	case n < 86:
		return pick(r, accentedFirst) + " " + pick(r, accentedLast)
	case n < 92:
		return pick(r, cjkNames)
	case n < 95:
		return pick(r, adjectives) + " " + pick(r, emoji)
	default:
		return strings.ToUpper(pick(r, nouns))
	}
}

// songTitle makes one title. A few are the common ones ("Intro") that many artists share.
func songTitle(r *rand.Rand) string {
	n := r.IntN(1000)
	switch {
	case n < 40:
		return pick(r, commonTitles)
	case n < 70:
		return pick(r, foreignTitles)
	case n < 80:
		return pick(r, titleWords) + " / " + pick(r, titleWords)
	case n < 86:
		return pick(r, titleWords) + ` "` + pick(r, titleWords) + `"`
	case n < 88:
		return pick(r, titleWords) + ` \o/`
	case n < 92:
		return pick(r, titleWords) + " " + pick(r, emoji)
	}
	var b strings.Builder
	words := 1 + r.IntN(3)
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
			if r.IntN(4) == 0 {
				b.WriteString(pick(r, titleSmall))
				b.WriteByte(' ')
			}
		}
		b.WriteString(pick(r, titleWords))
	}
	if r.IntN(8) == 0 {
		b.WriteString(pick(r, titleSuffixes))
	}
	return b.String()
}

// mojibake encodes s's UTF-8 twice more, reading each byte as a Latin-1 character: "Björk"
// becomes "Bj\u00c3\u0083\u00c2\u00b6rk" in JSON, the corruption found in the real log. The result
// differs from s whenever s has a non-ASCII character, so it can never match the catalog.
func mojibake(s string) string {
	for range 2 {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteRune(rune(s[i]))
		}
		s = b.String()
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	upperAlpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	upperHex   = "0123456789ABCDEF"
)

// randomID returns prefix followed by 16 characters of alphabet.
func randomID(r *rand.Rand, prefix, alphabet string) string {
	b := make([]byte, len(prefix), len(prefix)+16)
	copy(b, prefix)
	for range 16 {
		b = append(b, alphabet[r.IntN(len(alphabet))])
	}
	return string(b)
}

// trackID returns a track id like the Million Song Dataset's: "TR", five letters (whose first
// three name the folders), then eleven hex digits.
func trackID(r *rand.Rand) string {
	b := make([]byte, 0, 18)
	b = append(b, 'T', 'R')
	for range 5 {
		b = append(b, upperAlpha[r.IntN(26)])
	}
	for range 11 {
		b = append(b, upperHex[r.IntN(16)])
	}
	return string(b)
}
