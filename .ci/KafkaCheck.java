import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;

/**
 * KafkaCheck asks a running cluster what the CI scripts need to know, through
 * Kafka's own admin client (the Maven jars carry no command-line tools):
 *
 * <pre>
 *   ready BOOTSTRAP NODES SECONDS   wait until the controller quorum has a leader and
 *                                   NODES voters, and NODES brokers are registered and
 *                                   unfenced; exit 1 if not within SECONDS
 *   leader BOOTSTRAP TOPIC PARTITION  print the node id leading the partition (-1: none)
 * </pre>
 */
public class KafkaCheck {
    public static void main(String[] args) throws Exception {
        if (args.length == 4 && args[0].equals("ready")) {
            System.exit(ready(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3])));
        }
        if (args.length == 4 && args[0].equals("leader")) {
            try (Admin admin = admin(args[1])) {
                int p = Integer.parseInt(args[3]);
                TopicPartitionInfo info = admin.describeTopics(List.of(args[2])).allTopicNames().get()
                        .get(args[2]).partitions().get(p);
                Node leader = info.leader();
                System.out.println(leader == null || leader.isEmpty() ? -1 : leader.id());
            }
            System.exit(0);
        }
        System.err.println("usage: KafkaCheck ready BOOTSTRAP NODES SECONDS | leader BOOTSTRAP TOPIC PARTITION");
        System.exit(2);
    }

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10000);
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        return Admin.create(p);
    }

    /** ready polls until the cluster is whole, and says what it saw. */
    static int ready(String bootstrap, int nodes, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        String last = "no answer";
        try (Admin admin = admin(bootstrap)) {
            while (System.nanoTime() < deadline) {
                try {
                    List<Integer> brokers = admin.describeCluster().nodes().get().stream()
                            .map(Node::id).sorted().collect(Collectors.toList());
                    QuorumInfo q = admin.describeMetadataQuorum().quorumInfo().get();
                    List<Integer> voters = q.voters().stream()
                            .map(QuorumInfo.ReplicaState::replicaId).sorted().collect(Collectors.toList());
                    last = "quorum leader " + q.leaderId() + " (epoch " + q.leaderEpoch() + "), voters " + voters
                            + ", unfenced brokers " + brokers;
                    if (q.leaderId() >= 0 && voters.size() == nodes && brokers.size() == nodes) {
                        System.out.println(last);
                        return 0;
                    }
                } catch (Exception e) {
                    last = e.getCause() != null ? e.getCause().toString() : e.toString();
                }
                Thread.sleep(250); // the interval between polls
            }
        }
        System.err.println("KafkaCheck: the cluster was not ready within " + seconds + "s: " + last);
        return 1;
    }
}
