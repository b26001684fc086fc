// A tiny round-robin TCP balancer for tests: each new connection goes to the next backend, bytes are piped both ways.
import type { Socket, TCPSocketListener } from "bun";

export interface Balancer {
  url: string;
  /** Connections handed to each backend so far, by its index. */
  counts: number[];
  stop(): void;
}

type Side = { peer?: Socket<Side>; pending: Uint8Array[]; closed: boolean };

/** Writes what the peer cannot take yet later, in order (on drain). */
function forward(to: Socket<Side>, data: Uint8Array): void {
  const queue = to.data.pending;
  if (queue.length) return void queue.push(new Uint8Array(data));
  const n = to.write(data);
  if (n < data.length) queue.push(new Uint8Array(data.subarray(Math.max(0, n))));
}

function flush(s: Socket<Side>): void {
  const queue = s.data.pending;
  while (queue.length) {
    const chunk = queue[0]!;
    const n = s.write(chunk);
    if (n < chunk.length) return void (queue[0] = chunk.subarray(Math.max(0, n)));
    queue.shift();
  }
}

export function startBalancer(backends: { hostname: string; port: number }[]): Balancer {
  const counts = backends.map(() => 0);
  let next = 0;
  const listener: TCPSocketListener<Side> = Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { pending: [], closed: false };
        const i = next++ % backends.length;
        counts[i]!++;
        void Bun.connect<Side>({
          ...backends[i]!,
          socket: {
            open(up) {
              up.data = { peer: client, pending: client.data.pending.splice(0), closed: false };
              client.data.peer = up;
              flush(up);
              if (client.data.closed) up.end();
            },
            data: (up, d) => forward(up.data.peer!, d),
            drain: flush,
            close: (up) => void up.data.peer?.end(),
            error: (up) => void up.data.peer?.end(),
          },
        }).catch(() => void client.end());
      },
      // Until the backend is connected, what the client sends waits in its own queue.
      data: (client, d) => void (client.data.peer ? forward(client.data.peer, d) : client.data.pending.push(new Uint8Array(d))),
      drain: flush,
      close(client) {
        client.data.closed = true;
        client.data.peer?.end();
      },
      error: (client) => void client.data.peer?.end(),
    },
  });
  return { url: `http://127.0.0.1:${listener.port}`, counts, stop: () => listener.stop(true) };
}
