package decode

import (
	"github.com/sparkify/lake/internal/record"
	"github.com/sparkify/lake/internal/textfix"
)

// RepairField names a text field that text repair applies to, as the manifest counts it.
type RepairField uint8

// The fields text repair applies to (SPEC, "Text repair"): the events' song, artist, firstName,
// lastName and location, and the catalog's title, artist_name and artist_location.
const (
	RepairSong RepairField = iota
	RepairArtist
	RepairFirstName
	RepairLastName
	RepairLocation
	RepairTitle
	RepairArtistName
	RepairArtistLocation
	numRepairFields
)

// Name is the field's name in the source JSON.
func (f RepairField) Name() string {
	return [...]string{"song", "artist", "firstName", "lastName", "location", "title", "artist_name", "artist_location"}[f]
}

// Repairs counts the values text repair changed, by field.
type Repairs [numRepairFields]int64

// Map returns the counts of the fields with at least one repaired value, by field name.
func (r *Repairs) Map() map[string]int64 {
	m := map[string]int64{}
	for f, n := range r {
		if n > 0 {
			m[RepairField(f).Name()] = n
		}
	}
	return m
}

// repair undoes mojibake in *s (see textfix.Repair) and counts it under f.
func (d *Decoder) repair(f RepairField, s *string) {
	if fixed, ok := textfix.Repair(*s); ok {
		*s = fixed
		d.Repaired[f]++
	}
}

func (d *Decoder) repairEvent(e *record.Event) {
	if d.NoRepair {
		return
	}
	d.repair(RepairSong, &e.Song)
	d.repair(RepairArtist, &e.Artist)
	d.repair(RepairFirstName, &e.FirstName)
	d.repair(RepairLastName, &e.LastName)
	d.repair(RepairLocation, &e.Location)
}

func (d *Decoder) repairSong(s *record.Song) {
	if d.NoRepair {
		return
	}
	d.repair(RepairTitle, &s.Title)
	d.repair(RepairArtistName, &s.ArtistName)
	d.repair(RepairArtistLocation, &s.ArtistLocation)
}
