package kafkaio_test

import (
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// Commit and Tail check their configs with Validate; a caller that wants
// the error rather than Commit's panic gets the same words.
func TestConfigsValidate(t *testing.T) {
	conn := kafkaio.Config{Brokers: []string{"127.0.0.1:9092"}}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"commit ok", kafkaio.CommitConfig{Config: conn, Group: "g", Units: 2}.Validate(), ""},
		{"commit no brokers", kafkaio.CommitConfig{Group: "g", Units: 1}.Validate(), "kafkaio: no brokers (set --brokers host:port[,host:port], or --brokers=embedded)"},
		{"commit no group", kafkaio.CommitConfig{Config: conn, Units: 1}.Validate(), "kafkaio: Commit needs a consumer group"},
		{"commit no units", kafkaio.CommitConfig{Config: conn, Group: "g"}.Validate(), "kafkaio: Commit needs Units >= 1, got 0"},
		{"tail ok", kafkaio.TailConfig{Config: conn, Topic: "t", Last: 3}.Validate(), ""},
		{"tail no topic", kafkaio.TailConfig{Config: conn, Last: 3}.Validate(), "kafkaio: Tail needs a topic"},
		{"tail both", kafkaio.TailConfig{Config: conn, Topic: "t", Last: 3, Since: time.Unix(1, 0)}.Validate(), "kafkaio: Tail needs exactly one of Last (> 0) and Since"},
		{"tail neither", kafkaio.TailConfig{Config: conn, Topic: "t"}.Validate(), "kafkaio: Tail needs exactly one of Last (> 0) and Since"},
		{"read shard ok", kafkaio.ReadConfig{Config: conn, Topics: []string{"t"}, Shards: 2, Shard: 1}.Validate(), ""},
		{"read shard past shards", kafkaio.ReadConfig{Config: conn, Topics: []string{"t"}, Shards: 2, Shard: 2}.Validate(), "kafkaio: shard 2 of 2: want 0 <= shard < shards"},
		{"read shard without shards", kafkaio.ReadConfig{Config: conn, Topics: []string{"t"}, Shard: 1}.Validate(), "kafkaio: shard 1 of 0: want 0 <= shard < shards"},
		{"tail bad broker", kafkaio.TailConfig{Config: kafkaio.Config{Brokers: []string{"nohost"}}, Topic: "t", Last: 1}.Validate(), `kafkaio: broker "nohost" is not host:port`},
	} {
		got := ""
		if tc.err != nil {
			got = tc.err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: Validate() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
