package catalog

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

const benchN = 1_000_000

var bench struct {
	once    sync.Once
	ra, dec []float64
	cat     *Catalog
	csv     string
}

// benchCatalog is a synthetic catalog of 1M entries uniform on the sphere
// with integer ids and one magnitude column, as a CSV file and loaded.
func benchCatalog(b *testing.B) {
	bench.once.Do(func() {
		rng := rand.New(rand.NewPCG(7, 8))
		dir, err := os.MkdirTemp("", "catalog-bench")
		if err != nil {
			b.Fatal(err)
		}
		bench.csv = filepath.Join(dir, "synthetic.csv")
		f, err := os.Create(bench.csv)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(f)
		w.WriteString("id,ra,dec,mag\n")
		buf := []byte{}
		for i := range benchN {
			ra, dec := rng.Float64()*360, math.Asin(2*rng.Float64()-1)*deg
			bench.ra, bench.dec = append(bench.ra, ra), append(bench.dec, dec)
			buf = strconv.AppendInt(buf[:0], int64(i+1), 10)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, ra, 'f', 8, 64)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, dec, 'f', 8, 64)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, 8+rng.Float64()*10, 'f', 3, 64)
			buf = append(buf, '\n')
			w.Write(buf)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		if bench.cat, err = Load(Spec{Name: "synthetic", Path: bench.csv}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkCone: searches per second on one core, half of them centred
// within 3 arcsec of an entry (so about half find one), half at random.
func BenchmarkCone(b *testing.B) {
	benchCatalog(b)
	c := bench.cat
	rng := rand.New(rand.NewPCG(9, 10))
	const nq = 1 << 16
	qra, qdec := make([]float64, nq), make([]float64, nq)
	for i := range nq {
		if i%2 == 0 {
			j := rng.IntN(benchN)
			qra[i], qdec[i] = offset(bench.ra[j], bench.dec[j], 3.0/3600*rng.Float64(), rng.Float64()*360)
		} else {
			qra[i], qdec[i] = rng.Float64()*360, math.Asin(2*rng.Float64()-1)*deg
		}
	}
	for _, r := range []float64{1, 5, 30} {
		b.Run(fmt.Sprintf("nearest/r=%v", r), func(b *testing.B) {
			found := 0
			i := 0
			for b.Loop() {
				if _, ok := c.Nearest(qra[i%nq], qdec[i%nq], r); ok {
					found++
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "searches/s")
			b.ReportMetric(float64(found)/float64(b.N), "found/op")
		})
	}
}

// BenchmarkMemory reports the bytes an entry costs in memory (index, id
// and one magnitude column).
func BenchmarkMemory(b *testing.B) {
	benchCatalog(b)
	for b.Loop() {
	}
	b.ReportMetric(float64(bench.cat.MemoryBytes())/float64(bench.cat.Len()), "bytes/entry")
	b.ReportMetric(float64(bench.cat.MemoryBytes())/1e6, "MB")
}

// BenchmarkLoadCSV loads the 1M-row CSV file (parse and index).
func BenchmarkLoadCSV(b *testing.B) {
	benchCatalog(b)
	st, _ := os.Stat(bench.csv)
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, err := Load(Spec{Name: "synthetic", Path: bench.csv}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchN)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
}
