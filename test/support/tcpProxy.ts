// A TCP proxy on loopback in front of a server (PostgreSQL here), for tests
// that need the network between a client and it to misbehave: a delay added
// to every chunk in each direction (order kept), and a partition — bytes
// silently dropped both ways, no reset, as when a link goes away — that can
// be healed (the connections it cut are closed then, so clients reconnect).
import { connect, createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Drops every byte both ways, on open connections and new ones, without closing anything. */
  cut(): void;
  /** Ends a partition: the connections it held are closed, new ones pass again. */
  heal(): void;
  close(): Promise<void>;
}

/** Starts a proxy to `target` that delays each chunk by `delayMs` in each direction. */
export async function startTcpProxy(target: { host: string; port: number }, delayMs = 0): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let cut = false;
  let accepted = 0;
  const forward = (from: Socket, to: Socket) => {
    from.on("data", (chunk: Buffer) => {
      if (cut) return;
      if (delayMs === 0) to.write(chunk);
      // Timers of one duration fire in the order they were set: chunks keep their order.
      else setTimeout(() => !cut && !to.destroyed && to.write(chunk), delayMs);
    });
    const end = () => setTimeout(() => to.destroy(), delayMs);
    from.on("end", end);
    from.on("close", end);
    from.on("error", () => undefined);
  };
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    client.on("close", () => open.delete(client));
    upstream.on("close", () => open.delete(upstream));
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("the proxy has no port");
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    cut: () => {
      cut = true;
    },
    heal: () => {
      for (const socket of open) socket.destroy();
      open.clear();
      cut = false;
    },
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
