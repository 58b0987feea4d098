package consumer

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// savePacket writes a packet's exact bytes to dir/topic/id.avro durably
// before its offset may be committed: into a temporary file that is
// fsync'd, closed and renamed into place, and then the directory is
// fsync'd so the new name survives a power cut too. Readers of the
// directory never see a partial packet, and a redelivered alert simply
// replaces its file with the same bytes.
func savePacket(dir, topic string, id int64, value []byte) (err error) {
	d := filepath.Join(dir, topic)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("consumer: saving packets: %w", err)
	}
	name := strconv.FormatInt(id, 10) + ".avro"
	f, err := os.CreateTemp(d, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("consumer: saving packet: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("consumer: saving packet %s: %w", filepath.Join(d, name), err)
		}
	}()
	if _, err = f.Write(value); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp makes 0600
		return err
	}
	if err = os.Rename(f.Name(), filepath.Join(d, name)); err != nil {
		return err
	}
	return syncDir(d)
}

func syncDir(d string) error {
	df, err := os.Open(d)
	if err != nil {
		return err
	}
	defer df.Close()
	return df.Sync()
}
