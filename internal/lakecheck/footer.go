package lakecheck

import (
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// Chunk is what a file says about one column of one row group: its footer's column chunk
// metadata and the header of each of its pages.
type Chunk struct {
	RowGroup  int
	Column    string
	Physical  string   // INT32, INT64, DOUBLE, BYTE_ARRAY
	Values    int64    // values in the chunk, NULLs included
	Encodings []string // listed in the column chunk metadata, e.g. [PLAIN RLE RLE_DICTIONARY]

	// Statistics of the column chunk metadata, as a reader that trusts them sees them (Arrow
	// drops the ones it knows a writer got wrong).
	Stats     bool // statistics are there
	MinMax    bool // with a minimum and a maximum
	NullCount int64
	HasNulls  bool // with a null count

	Pages []Page // in file order, the dictionary page first when there is one
}

// Page is one page's header.
type Page struct {
	Type     string // DICTIONARY_PAGE, DATA_PAGE or DATA_PAGE_V2
	Encoding string // of the values: PLAIN, RLE_DICTIONARY...
	Values   int32
	Stats    metadata.EncodedStatistics // of a data page; zero for a dictionary page
}

// Chunks reads the footer and page headers of the Parquet file at path.
func Chunks(path string) ([]Chunk, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	var out []Chunk
	for rg := 0; rg < pf.NumRowGroups(); rg++ {
		rgr := pf.RowGroup(rg)
		for ci := 0; ci < rgr.NumColumns(); ci++ {
			md, err := rgr.MetaData().ColumnChunk(ci)
			if err != nil {
				return nil, err
			}
			c := Chunk{
				RowGroup: rg,
				Column:   md.PathInSchema().String(),
				Physical: md.Type().String(),
				Values:   md.NumValues(),
			}
			for _, e := range md.Encodings() {
				c.Encodings = append(c.Encodings, e.String())
			}
			stats, err := md.Statistics()
			if err != nil {
				return nil, fmt.Errorf("row group %d, column %s: %w", rg, c.Column, err)
			}
			if stats != nil {
				c.Stats = true
				c.MinMax = stats.HasMinMax()
				c.HasNulls = stats.HasNullCount()
				c.NullCount = stats.NullCount()
			}
			pr, err := rgr.GetColumnPageReader(ci)
			if err != nil {
				return nil, err
			}
			for pr.Next() {
				p := pr.Page()
				pg := Page{Type: p.Type().String(), Encoding: p.Encoding().String(), Values: p.NumValues()}
				if s, ok := p.(interface {
					Statistics() metadata.EncodedStatistics
				}); ok {
					pg.Stats = s.Statistics()
				}
				c.Pages = append(c.Pages, pg)
			}
			err = pr.Err()
			pr.Close()
			if err != nil {
				return nil, fmt.Errorf("row group %d, column %s: %w", rg, c.Column, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}
