// A process that opens a PostgresStore (migrating the database) at a given
// moment, prints the schema version, runs as many transactions as its second
// argument says (one heartbeat each) and exits: postgres.test.ts starts
// several at once against an empty database.
import { PostgresStore } from "@driftless/gitops";

const [url, startAt] = [process.env.STORE_URL, Number(process.argv[2])];
while (Date.now() < startAt) await new Promise((resolve) => setTimeout(resolve, 5));
const store = await PostgresStore.open(url);
console.log(await store.schemaVersion());
const member = { id: "child", host: "localhost", pid: process.pid, startedAt: new Date().toISOString() };
for (let i = 0; i < Number(process.argv[3] ?? 0); i++) await store.heartbeat(member, 10_000);
await store.close();
