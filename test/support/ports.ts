// Loopback ports for the servers the tests start with a port of our choosing
// (etcd, kube-apiserver, Gitea, PostgreSQL): the server binds it some time
// after we chose it.
//
// A port found free with `listen(0)` comes from the kernel's ephemeral range
// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 on these machines),
// the range every outgoing connection takes its local port from. With three
// test files side by side making hundreds of connections a second, one took
// such a port before its server bound it (CI: Gitea and PostgreSQL failed
// with "address already in use"). So ports are drawn at random outside that
// range, each checked free by binding it. Another test process may still draw
// the same port: the starters start again on a new port when theirs is taken
// ({@link ADDRESS_IN_USE}).
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** How many ports to draw from. */
const SPAN = 12_000;

/** What a server prints when its port is taken (Go: `bind: address already in use`; PostgreSQL: `Address already in use`). */
export const ADDRESS_IN_USE = /address already in use/i;

/** `[low, high)`: ports outside the ephemeral range, below it where there is room, else above it. */
function drawRange(): readonly [number, number] {
  let low = 32_768;
  let high = 60_999;
  try {
    [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number) as [number, number];
  } catch {
    // Not Linux: the usual range.
  }
  if (low - SPAN >= 1024) return [low - SPAN, low];
  if (high + SPAN <= 65_536) return [high + 1, high + 1 + SPAN];
  throw new Error(`the ephemeral port range ${low}–${high} leaves no room for ${SPAN} ports to draw from`);
}

const RANGE = drawRange();
/** Ports this process handed out: never twice. */
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** `count` distinct loopback ports, free now, outside the ephemeral range. */
export async function freePorts(count: number): Promise<number[]> {
  const [low, high] = RANGE;
  const ports: number[] = [];
  for (let draws = 0; ports.length < count; draws++) {
    if (draws > 1000) throw new Error(`no free loopback port between ${low} and ${high - 1} in 1000 draws`);
    const port = randomInt(low, high);
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    ports.push(port);
  }
  return ports;
}

/** One loopback port, free now, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}
