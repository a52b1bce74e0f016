// A process that opens a PostgresStore (migrating the database) at a given
// moment, prints the schema version, runs as many transactions as its second
// argument says (one heartbeat each) and exits: postgres.test.ts starts
// several at once against an empty database, and prints "closed" once its
// store is closed. With `forever` instead of a
// count, it takes target "t" as member "stopped" with a 1 s lease, prints
// "holding" and heartbeats back to back until it is killed, so a SIGSTOP
// finds it in the middle of a transaction.
import { PostgresStore } from "@driftless/gitops";

const [url, startAt] = [process.env.STORE_URL, Number(process.argv[2])];
while (Date.now() < startAt) await new Promise((resolve) => setTimeout(resolve, 5));
const store = await PostgresStore.open(url);
console.log(await store.schemaVersion());
if (process.argv[3] === "forever") {
  const member = { id: "stopped", host: "localhost", pid: process.pid, startedAt: new Date().toISOString() };
  await store.heartbeat(member, 1000);
  await store.acquireTarget("t", "stopped", 1000);
  console.log("holding");
  for (;;) await store.heartbeat(member, 1000);
}
const member = { id: "child", host: "localhost", pid: process.pid, startedAt: new Date().toISOString() };
for (let i = 0; i < Number(process.argv[3] ?? 0); i++) await store.heartbeat(member, 10_000);
await store.close();
// Reached only if close() settles before the process runs out of things to do.
console.log("closed");
