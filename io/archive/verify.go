package archive

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// Report is what Verify found in one night of the archive.
type Report struct {
	Files   int   // archive files found
	Records int64 // records in the files that read in full
	// Duplicates are the alert ids stored more than once, each listed once.
	Duplicates []int64
	// Unreadable are files that do not read in full (truncated, corrupt,
	// or whose header lists other ids than its records hold); Problems
	// says why for each. Their records are not counted.
	Unreadable []string
	Problems   map[string]string
	// Misplaced are files holding records of another night or program.
	Misplaced []string
	// Pending are temporary files of bundles whose commit has not run (a
	// running job, or one that failed). Readers never see them.
	Pending []string
}

// OK reports a night with no duplicates, unreadable or misplaced files.
func (r Report) OK() bool {
	return len(r.Duplicates) == 0 && len(r.Unreadable) == 0 && len(r.Misplaced) == 0
}

func (r Report) String() string {
	return fmt.Sprintf("%d files, %d records, %d duplicate ids, %d unreadable, %d misplaced, %d pending temporary files",
		r.Files, r.Records, len(r.Duplicates), len(r.Unreadable), len(r.Misplaced), len(r.Pending))
}

// VerifyOption changes how Verify works.
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	progress func(files, of int, records int64)
}

// WithProgress has Verify call f before each file and once at the end
// with the files read so far, the files of the night, and the records
// read so far, for a progress line.
func WithProgress(f func(files, of int, records int64)) VerifyOption {
	return func(o *verifyOptions) { o.progress = f }
}

// Verify reads every record of every file of a night (YYYYMMDD) under root
// and reports counts, duplicate ids and unreadable files. An error means
// the archive could not be listed, not that it is bad: that is the Report.
func Verify(ctx context.Context, root, survey, night string, opts ...VerifyOption) (Report, error) {
	var vo verifyOptions
	for _, opt := range opts {
		opt(&vo)
	}
	rep := Report{Problems: map[string]string{}}
	if survey != schemas.ZTF && survey != schemas.LSST {
		return rep, fmt.Errorf("archive: unknown survey %q (want ztf or lsst)", survey)
	}
	if err := parseNight(night); err != nil {
		return rep, err
	}
	st, err := openStore(ctx, root, DefaultRetryTimeout)
	if err != nil {
		return rep, err
	}
	defer st.close()
	codec, err := framing.New(survey, nil)
	if err != nil {
		return rep, err
	}
	objs, err := st.list(ctx, survey+"/"+night+"/")
	if err != nil {
		return rep, err
	}
	finals := 0
	for _, obj := range objs {
		if isFinal(obj.Name) {
			finals++
		}
	}
	var all []int64
	for _, o := range objs {
		if !isFinal(o.Name) {
			continue
		}
		if vo.progress != nil {
			vo.progress(rep.Files, finals, rep.Records)
		}
		rep.Files++
		ids, misplaced, err := verifyFile(ctx, st, codec, survey, night, o.Name)
		if err != nil {
			rep.Unreadable = append(rep.Unreadable, st.url(o.Name))
			rep.Problems[st.url(o.Name)] = err.Error()
			continue
		}
		if misplaced {
			rep.Misplaced = append(rep.Misplaced, st.url(o.Name))
		}
		rep.Records += int64(len(ids))
		all = append(all, ids...)
	}
	if vo.progress != nil {
		vo.progress(rep.Files, finals, rep.Records)
	}
	rep.Duplicates = repeats(all)
	temps, err := st.list(ctx, tempDir+"/"+survey+"/"+night+"/")
	if err != nil {
		return rep, err
	}
	for _, t := range temps {
		rep.Pending = append(rep.Pending, st.url(t.Name))
	}
	return rep, nil
}

// verifyFile reads a file in full and returns the ids of its records.
func verifyFile(ctx context.Context, st store, codec *framing.Codec, survey, night, name string) (ids []int64, misplaced bool, err error) {
	wantDir := path.Dir(name)
	var listed []int64
	var hasList bool
	err = scanFile(ctx, st, name, func(h *fileInfo, block int, datum []byte) error {
		listed, hasList = h.ids, h.hasIDs
		id, err := decodeIdentity(codec, h.writer, datum)
		if err != nil && !errors.Is(err, errImplausible) {
			return fmt.Errorf("record %d: %w", block, err)
		}
		if err != nil || nightDir(survey, id.Night, id.Program) != wantDir {
			misplaced = true
		}
		ids = append(ids, id.ID)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	sorted := slices.Sorted(slices.Values(ids))
	if hasList && !slices.Equal(sorted, listed) {
		return nil, false, fmt.Errorf("%w: the header lists %d ids, the records hold %d others", errCorrupt, len(listed), len(ids))
	}
	if !strings.HasPrefix(wantDir, survey+"/"+night) {
		misplaced = true
	}
	return ids, misplaced, nil
}

// repeats returns the values that occur more than once, sorted, once each.
func repeats(ids []int64) []int64 {
	slices.Sort(ids)
	var out []int64
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] && (len(out) == 0 || out[len(out)-1] != ids[i]) {
			out = append(out, ids[i])
		}
	}
	return out
}

// RepairResult says what Repair changed.
type RepairResult struct {
	Rewritten []string // files replaced by a copy without their duplicates
	Removed   []string // files removed: all their records were elsewhere
	Created   []string // the copies
}

// Repair removes duplicate ids from a night, keeping each alert in the
// first file (by name) that holds it: a later file with duplicates is
// replaced by a new file of its other records, or removed if it has none.
// The copy is committed before the original is removed, so an interrupted
// repair may leave a duplicate (run it again) but never loses a record.
// Unreadable files are left alone. Duplicates only arise if the archive was
// written by something that bypassed the commit protocol (see the package
// documentation); Verify finds them.
func Repair(ctx context.Context, root, survey, night string, cfg Config) (RepairResult, error) {
	var res RepairResult
	cfg.Root, cfg.Survey = root, survey
	cfg = cfg.withDefaults()
	if err := parseNight(night); err != nil {
		return res, err
	}
	c, err := newCommitter(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer c.st.close()
	objs, err := c.st.list(ctx, survey+"/"+night+"/")
	if err != nil {
		return res, err
	}
	seen := map[int64]bool{}
	for _, o := range objs {
		if !isFinal(o.Name) {
			continue
		}
		src := tempFile{Name: o.Name}
		var info *fileInfo
		err := scanFile(ctx, c.st, o.Name, func(h *fileInfo, _ int, datum []byte) error {
			info = h
			id, err := decodeIdentity(c.codec, h.writer, datum)
			if err != nil && !errors.Is(err, errImplausible) {
				return err
			}
			src.IDs = append(src.IDs, id.ID)
			src.Sizes = append(src.Sizes, int64(len(datum)))
			if err == nil {
				src.Night, src.Program = id.Night, id.Program
			}
			return nil
		})
		if err != nil {
			continue // unreadable: Verify reports it; nothing safe to do
		}
		want := map[int64]recordLoc{}
		sizes := map[int64]int64{}
		var keep []int64
		for bi, id := range src.IDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			want[id] = recordLoc{0, bi}
			sizes[id] = src.Sizes[bi]
			keep = append(keep, id)
		}
		if len(keep) == len(src.IDs) {
			continue
		}
		if len(keep) > 0 {
			dir := path.Dir(o.Name)
			fp := info.writer.Fingerprint()
			src.Survey, src.FP = survey, fmt.Sprintf("%x", fp[:])
			stem := fileStem(survey, src.Night, src.Program)
			if program := src.Program; nightDir(survey, src.Night, program) != dir {
				return res, fmt.Errorf("archive: %s holds records of another night or program; move it before repairing", c.st.url(o.Name))
			}
			slices.Sort(keep)
			var cres commitResult
			for attempt := 0; ; attempt++ {
				_, next, err := c.idx.refresh(ctx, c, dir, stem, src.FP)
				if err != nil {
					return res, err
				}
				err = c.writeChunks(ctx, []tempFile{src}, want, chunkIDs(keep, sizes, c.maxRecords, c.maxBytes), dir, stem, src.FP, next, &cres)
				if err == nil {
					break
				}
				if !errors.Is(err, errExist) || attempt == maxAttempts {
					return res, err
				}
			}
			for _, f := range cres.Files {
				res.Created = append(res.Created, c.st.url(f))
			}
			res.Rewritten = append(res.Rewritten, c.st.url(o.Name))
		} else {
			res.Removed = append(res.Removed, c.st.url(o.Name))
		}
		if err := c.st.remove(ctx, o.Name); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Sweep removes the temporary files a night's failed bundles left behind
// (Report.Pending), and returns their names. Run it only when no job is
// writing the night: a running job's temporary files are still to be
// committed.
func Sweep(ctx context.Context, root, survey, night string) ([]string, error) {
	if err := parseNight(night); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, root, DefaultRetryTimeout)
	if err != nil {
		return nil, err
	}
	defer st.close()
	temps, err := st.list(ctx, tempDir+"/"+survey+"/"+night+"/")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range temps {
		if err := st.remove(ctx, t.Name); err != nil {
			return out, err
		}
		out = append(out, st.url(t.Name))
	}
	return out, nil
}
