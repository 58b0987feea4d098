package linefile

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// Write writes lines to a new file of kind in dir; nothing when there are
// none. A line must not hold a newline (quote or encode it).
func Write(dir, kind string, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	f, err := os.CreateTemp(dir, kind+".*")
	if err != nil {
		return err
	}
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Read returns the lines of every file Write wrote in dir, by kind, in no
// particular order across files.
func Read(dir string) (map[string][]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.*"))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, path := range files {
		base := filepath.Base(path)
		kind := base[:strings.LastIndex(base, ".")]
		lines, err := readFile(path)
		if err != nil {
			return nil, err
		}
		out[kind] = append(out[kind], lines...)
	}
	return out, nil
}

func readFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	// A line may hold a whole packet with its cutouts.
	sc.Buffer(nil, 1<<30)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}
