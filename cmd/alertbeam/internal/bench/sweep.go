package bench

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// sweeper deletes the topics a benchmark run created: the phases write
// several times the loaded bytes (the full phase about seven), so a run
// of 20,000 ZTF alerts would leave some 25 GB on the broker's disk.
// Only topics that did not exist when the run started and that the
// phases name are deleted: bench.* and bench-* topics, and the night
// topics of the benchmark's own nights.
type sweeper struct {
	admin  sarama.ClusterAdmin
	before map[string]bool
	ours   *regexp.Regexp
}

func newSweeper(opts Options) (*sweeper, error) {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: opts.Brokers})
	if err != nil {
		return nil, err
	}
	admin, err := sarama.NewClusterAdmin(opts.Brokers, sc)
	if err != nil {
		return nil, err
	}
	topics, err := admin.ListTopics()
	if err != nil {
		admin.Close()
		return nil, err
	}
	sw := &sweeper{admin: admin, before: map[string]bool{}}
	for t := range topics {
		sw.before[t] = true
	}
	// LSST nights are Rubin's dayObs, the day before for early UTC hours.
	var days []string
	for _, n := range []time.Time{loadNight, liveNight} {
		days = append(days, n.Format("20060102"), n.AddDate(0, 0, -1).Format("20060102"))
	}
	sw.ours = regexp.MustCompile(`^(bench[.-]|(ztf|lsst)_(` + strings.Join(days, "|") + `)(_|$))`)
	return sw, nil
}

// created lists the phases' output topics created since the run began.
func (sw *sweeper) created() ([]string, error) {
	topics, err := sw.admin.ListTopics()
	if err != nil {
		return nil, err
	}
	var ours []string
	for t := range topics {
		if !sw.before[t] && sw.ours.MatchString(t) {
			ours = append(ours, t)
		}
	}
	slices.Sort(ours)
	return ours, nil
}

// outputs deletes the phases' output topics created since the run began.
func (sw *sweeper) outputs() error {
	gone, err := sw.created()
	if err != nil {
		return err
	}
	return sw.delete(gone)
}

// outputBytes is what the phases' output topics created since the run
// began hold on the brokers' disks (after producer compression), or 0
// when the brokers do not say (the embedded broker).
func (sw *sweeper) outputBytes() int64 {
	ours, err := sw.created()
	if err != nil || len(ours) == 0 {
		return 0
	}
	brokers, _, err := sw.admin.DescribeCluster()
	if err != nil {
		return 0
	}
	ids := make([]int32, len(brokers))
	for i, b := range brokers {
		ids[i] = b.ID()
	}
	dirs, err := sw.admin.DescribeLogDirs(ids)
	if err != nil {
		return 0
	}
	var n int64
	for _, ds := range dirs {
		for _, d := range ds {
			for _, t := range d.Topics {
				if _, found := slices.BinarySearch(ours, t.Topic); !found {
					continue
				}
				for _, p := range t.Partitions {
					if !p.IsTemporary {
						n += p.Size
					}
				}
			}
		}
	}
	return n
}

// delete deletes topics and waits until they are gone, so the next phase
// creates its topics afresh rather than find them being deleted.
func (sw *sweeper) delete(gone []string) error {
	for _, t := range gone {
		if err := sw.admin.DeleteTopic(t); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return fmt.Errorf("bench: deleting %s: %w", t, err)
		}
	}
	for deadline := time.Now().Add(time.Minute); len(gone) > 0; time.Sleep(200 * time.Millisecond) {
		topics, err := sw.admin.ListTopics()
		if err != nil {
			return err
		}
		gone = slices.DeleteFunc(gone, func(t string) bool { _, left := topics[t]; return !left })
		if len(gone) > 0 && time.Now().After(deadline) {
			return fmt.Errorf("bench: topics %v still there a minute after their deletion", gone)
		}
	}
	return nil
}

// close deletes the outputs of the last phase, and then topics named.
func (sw *sweeper) close(topics ...string) {
	_ = sw.outputs()
	_ = sw.delete(topics)
	sw.admin.Close()
}
