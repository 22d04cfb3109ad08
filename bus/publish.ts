import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { z } from "zod";
import * as M from "./schemas.ts";
import { Subjects, subjectMatches } from "./subjects.ts";

/**
 * Which schema a subject's messages follow. Publish and consume both validate against
 * this table, so a producer cannot emit what its consumer would dead-letter.
 */
const catalog: [pattern: string, schema: z.ZodType][] = [
  [Subjects.bound, M.WfBound],
  [Subjects.schedWake, M.SchedWake],
  [Subjects.taskQueued, M.TaskQueued],
  [`${Subjects.launch}.*`, M.LaunchBatch],
  [Subjects.tiLaunched, M.TiLaunched],
  [Subjects.tiRunning, M.TiRunning],
  [Subjects.tiHeartbeat, M.TiHeartbeat],
  [Subjects.tiDone, M.TiDone],
  [Subjects.tiError, M.TiError],
  [`${Subjects.ctl}.*.kill`, M.KillOrder],
  [`${Subjects.bridgeHeartbeat}.*`, M.BridgeHeartbeat],
  [`${Subjects.dlq}.*`, M.DeadLetter],
];

/** Registers the schema of a subject defined outside this module (e.g. `wf.submit`). */
export function registerSchema(pattern: string, schema: z.ZodType): void {
  if (!catalog.some(([p]) => p === pattern)) catalog.push([pattern, schema]);
}

export function schemaFor(subject: string): z.ZodType | undefined {
  return catalog.find(([pattern]) => subjectMatches(pattern, subject))?.[1];
}

const encoder = new TextEncoder();

export class PublishValidationError extends Error {
  override name = "PublishValidationError";
}

export function encodeMessage(subject: string, data: unknown): Uint8Array {
  const schema = schemaFor(subject);
  if (!schema) throw new PublishValidationError(`no schema is registered for subject ${subject}`);
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new PublishValidationError(
      `refusing to publish an invalid ${subject}: ${parsed.error.message}`,
    );
  }
  return encoder.encode(JSON.stringify(parsed.data));
}

export interface Publisher {
  /** JetStream publish, validated; `msgID` makes a re-publish inside the dedupe window a no-op. */
  publish(subject: string, data: unknown, options?: { msgID?: string }): Promise<void>;
  /** Core NATS publish for events nobody must receive (live progress). */
  emit(subject: string, data: unknown): void;
}

export function createPublisher(nc: NatsConnection, js: JetStreamClient): Publisher {
  return {
    async publish(subject, data, options) {
      const payload = encodeMessage(subject, data);
      await js.publish(subject, payload, options?.msgID ? { msgID: options.msgID } : undefined);
    },
    emit(subject, data) {
      nc.publish(subject, encoder.encode(JSON.stringify(data)));
    },
  };
}
