import { inboxPrefix, type Role } from "./credentials.ts";
import { personStreams } from "./person-streams.ts";

/**
 * What each role may publish and subscribe to on NATS (2.9: subject permissions, no
 * auth callout). A person publishes only under their own token — so a function reading
 * the token from a subject knows who sent it — pulls only from the consumers of their
 * own launch and kill streams (created service-side: a consumer's filter cannot be
 * permission-checked), writes only their own DAG bucket, and receives only on their own
 * inbox prefix. They never reach stream or consumer management. Functions are the
 * service; the GUI sends commands and queries for the people it has authenticated.
 */

export interface Permissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /**
   * May answer requests it received (one reply each, to the asker's inbox, whoever they
   * are): a person's bridges answer the GUI's requests for their task logs.
   */
  allow_responses?: boolean;
}

export function personPermissions(token: string): Permissions {
  const s = personStreams(token);
  const pull = (stream: string) => [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.ACK.${stream}.>`,
  ];
  const bucket = `OBJ_${s.bucket}`;
  return {
    publish: {
      allow: [
        `wf.submit.${token}`,
        `cmd.${token}.>`,
        `query.${token}.>`,
        `ti.${token}.>`,
        `bridge.heartbeat.*.${token}`,
        // Asking their own bridges for their task logs (bus/bridge-logs.ts).
        `logs.${token}.>`,
        "$JS.API.INFO",
        ...pull(s.launch),
        ...pull(s.ctl),
        // Their DAG bucket: the object store writes chunks and metadata, looks up and
        // purges earlier versions of a name.
        `$O.${s.bucket}.>`,
        `$JS.API.STREAM.INFO.${bucket}`,
        `$JS.API.STREAM.MSG.GET.${bucket}`,
        `$JS.API.DIRECT.GET.${bucket}.>`,
        `$JS.API.STREAM.PURGE.${bucket}`,
      ],
    },
    subscribe: {
      // Their bridges answer `logs.<me>.<cluster>`: no one else's.
      allow: [`${inboxPrefix(token)}.>`, `wf.reply.${token}.>`, "evt.>", `logs.${token}.>`],
    },
    allow_responses: true,
  };
}

export function rolePermissions(role: Role, token: string): Permissions | undefined {
  switch (role) {
    case "person":
      return personPermissions(token);
    case "admin": {
      // A person who also manages the site: streams, consumers, dead letters, queues.
      const p = personPermissions(token);
      return {
        ...p,
        publish: { allow: [...p.publish.allow, "$JS.>", "cluster.queues"] },
        subscribe: { allow: [...p.subscribe.allow, "dlq.>"] },
      };
    }
    case "gui":
      return {
        // Task logs from their owners' bridges, once the query service said who may see them.
        publish: { allow: ["cmd.>", "query.>", "logs.>", "$JS.API.INFO"] },
        subscribe: { allow: [`${inboxPrefix(token)}.>`, "evt.>"] },
      };
    case "supervisor":
      // Starts bridges on a login node for the people with work waiting: it reads which
      // launch and kill streams hold what for whom, hears bridges' heartbeats and
      // announces its Slurm cluster's partitions. It acts on no one's workflows.
      return {
        publish: {
          allow: [
            "$JS.API.INFO",
            "$JS.API.STREAM.NAMES",
            "$JS.API.CONSUMER.INFO.*.*",
            "cluster.queues",
          ],
        },
        subscribe: { allow: [`${inboxPrefix(token)}.>`, "bridge.heartbeat.>"] },
      };
    case "function":
      return undefined; // the service: everything
  }
}
