import type { NatsConnection } from "@nats-io/nats-core";
import { type ObjectStore, Objm } from "@nats-io/obj";

/**
 * JetStream Object Store helpers for payloads larger than a message (a workflow's DAG).
 * Objects are streamed in and out in chunks; neither side holds the whole object.
 */

/** Opens a bucket the service side made (bind-dag reads people's DAGs from theirs). */
export async function openBucket(nc: NatsConnection, bucket: string): Promise<ObjectStore> {
  return new Objm(nc).open(bucket);
}

/**
 * Opens the bucket of a submitter's DAGs. It is made by the service side (a person may
 * not make streams); on a NATS without permissions the submitter makes it.
 */
export async function openOwnBucket(nc: NatsConnection, bucket: string): Promise<ObjectStore> {
  return untilAnswering(await openOrCreate(new Objm(nc), bucket), bucket);
}

async function openOrCreate(objm: Objm, bucket: string): Promise<ObjectStore> {
  try {
    return await objm.open(bucket);
  } catch (err) {
    try {
      return await objm.create(bucket, { description: "DAGs of one person" });
    } catch {
      throw new Error(
        `the DAG bucket ${bucket} does not exist and cannot be made here (${(err as Error).message}): is the Drover stack running, and were you added to it (drover admin add)?`,
        { cause: err },
      );
    }
  }
}

const ANSWER_WAIT_MS = 30_000;

/**
 * Resolves once the bucket's stream answers a read. On a JetStream cluster a stream just
 * made, or one whose leader was lost, has no leader for a few seconds, and a read times
 * out meanwhile. An upload cannot be retried once it has consumed its chunks, so the
 * wait comes before it, with a read of a name no upload uses.
 */
async function untilAnswering(store: ObjectStore, bucket: string): Promise<ObjectStore> {
  const deadline = Date.now() + ANSWER_WAIT_MS;
  for (let pause = 100; ; pause = Math.min(2000, pause * 2)) {
    try {
      await store.info(".drover-probe");
      return store;
    } catch (err) {
      if ((err as Error).name !== "TimeoutError") throw err;
      if (Date.now() > deadline)
        throw new Error(
          `the DAG bucket ${bucket} did not answer within ${ANSWER_WAIT_MS / 1000} s: is every NATS server of the stack up?`,
          { cause: err },
        );
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

export async function putObject(
  store: ObjectStore,
  name: string,
  chunks: AsyncIterable<Uint8Array>,
): Promise<{ digest: string; size: number }> {
  const iterator = chunks[Symbol.asyncIterator]();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
  const info = await store.put({ name }, stream);
  return { digest: info.digest, size: info.size };
}

export async function* readObject(store: ObjectStore, name: string): AsyncGenerator<Uint8Array> {
  const result = await store.get(name);
  if (!result) throw new Error(`object ${name} does not exist`);
  const reader = result.data.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    yield value;
  }
  // The digest is checked by the library once the stream ends; a mismatch rejects here.
  const failure = await result.error;
  if (failure)
    throw new Error(`object ${name} could not be read: ${failure.message}`, { cause: failure });
}
