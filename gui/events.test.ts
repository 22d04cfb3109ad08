import assert from "node:assert/strict";
import { createServer, get, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "../core/log.ts";
import { startNats, type TestNats } from "../test/helpers/nats.ts";
import { EventRelay } from "./events.ts";

let nats: TestNats;
let nc: NatsConnection;
let server: Server;
let relay: EventRelay;
let base: string;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  relay = new EventRelay(nc, silentLogger, 2);
  server = createServer((_req, res) => relay.stream(res, null));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(async () => {
  relay.closeAll();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await nc.close();
  await nats.stop();
});

/** Opens a stream; resolves with its response once the headers are in. */
function open(): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(base, resolve).on("error", reject));
}

async function body(res: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of res) text += chunk;
  return text;
}

describe("live-update streams", () => {
  test("past the cap a stream is refused with 503 naming the limit; a closed one frees its place", async () => {
    const first = await open();
    const second = await open();
    assert.equal(first.statusCode, 200);
    assert.equal(second.statusCode, 200);
    const third = await open();
    assert.equal(third.statusCode, 503);
    assert.equal(third.headers["retry-after"], "30");
    assert.match(JSON.parse(await body(third)).error, /the most is 2: DROVER_GUI_MAX_STREAMS/);

    first.destroy();
    for (let i = 0; i < 100 && relay.size > 1; i++) await new Promise((r) => setTimeout(r, 20));
    const again = await open();
    assert.equal(again.statusCode, 200);
    second.destroy();
    again.destroy();
  });
});
