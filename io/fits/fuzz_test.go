package fits

import (
	"testing"
)

// FuzzDecode feeds mutated stamps to the readers; they must return an
// error or an image whose size matches its pixels, and never panic.
func FuzzDecode(f *testing.F) {
	img := testImage(63, 63)
	raw, err := Encode(img)
	if err != nil {
		f.Fatal(err)
	}
	gz, err := EncodeGzip(img)
	if err != nil {
		f.Fatal(err)
	}
	small, err := Encode(Image{Width: 2, Height: 1, Pix: []float32{1, 2}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(gz)
	f.Add(small)
	f.Add(raw[:BlockSize])
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dec := range []func([]byte) (Image, error){Decode, DecodeGzip, DecodeAuto} {
			im, err := dec(b)
			if err != nil {
				continue
			}
			if im.Width <= 0 || im.Height <= 0 || len(im.Pix) != im.Width*im.Height {
				t.Fatalf("decoded %dx%d with %d pixels", im.Width, im.Height, len(im.Pix))
			}
			// What decodes must encode again unless a card is one the
			// encoder cannot write (e.g. a free-format value too long for
			// fixed format).
			if _, err := Encode(im); err != nil {
				t.Logf("re-encode: %v", err)
			}
		}
	})
}
