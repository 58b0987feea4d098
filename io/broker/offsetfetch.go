package broker

import (
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// installOffsetFetchFix makes c answer OffsetFetch for unknown groups as
// Kafka does.
//
// Kafka answers an OffsetFetch for a group it has never heard of as it
// answers one for a partition the group never committed: offset -1 and no
// error. kfake answers GROUP_ID_NOT_FOUND instead, and sarama's
// OffsetManager.ManagePartition fails on that, so the first run of any new
// consumer group would fail against the embedded broker and nowhere else.
// The control restores Kafka's answer: it intercepts OffsetFetch
// requests whose groups the cluster does not know and answers them itself,
// leaving every other request to kfake.
func installOffsetFetchFix(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.OffsetFetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req, ok := kreq.(*kmsg.OffsetFetchRequest)
		if !ok {
			return nil, nil, false
		}
		resp, handled := unknownGroupOffsets(req, func(g string) bool { return c.GroupInfo(g) != nil })
		if handled {
			// Answering drops a control; keep this one for the next request.
			c.KeepControl()
		}
		return resp, nil, handled
	})
}

// unknownGroupOffsets answers req with "nothing committed" when every group
// it names is unknown, and declines otherwise (a request mixing known and
// unknown groups, which sarama never sends, gets kfake's answer). Controls
// run off kfake's loop, so exists may query the cluster.
func unknownGroupOffsets(req *kmsg.OffsetFetchRequest, exists func(string) bool) (kmsg.Response, bool) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version <= 7 {
		// An empty name is invalid, not unknown: kfake reports that.
		if req.Group == "" || exists(req.Group) {
			return nil, false
		}
		// Topics nil asks for every committed offset: there are none.
		for _, t := range req.Topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition = p
				sp.Offset = -1
				sp.LeaderEpoch = -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, true
	}
	if len(req.Groups) == 0 {
		return nil, false
	}
	for _, g := range req.Groups {
		if g.Group == "" || exists(g.Group) {
			return nil, false
		}
	}
	for _, g := range req.Groups {
		sg := kmsg.NewOffsetFetchResponseGroup()
		sg.Group = g.Group
		for _, t := range g.Topics {
			st := kmsg.NewOffsetFetchResponseGroupTopic()
			st.Topic, st.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				sp.Partition = p
				sp.Offset = -1
				sp.LeaderEpoch = -1
				st.Partitions = append(st.Partitions, sp)
			}
			sg.Topics = append(sg.Topics, st)
		}
		resp.Groups = append(resp.Groups, sg)
	}
	return resp, true
}
