// A TCP relay in front of the real API server (TLS passes through untouched) that a test can hold, freeze, cut and restore; and a kubeconfig that goes through it.
import type { Socket, TCPSocketListener } from "bun";
import { readFileSync } from "node:fs";
import { cluster, tempDir, writeFile } from "./harness.ts";

type Client = Socket<{ peer?: Socket<unknown>; buf: Uint8Array[] }>;

/**
 * `held`: connections are accepted but not passed on until `release()` (an API server that is slow
 * to answer: the client's bytes wait, then go through). Frozen: every byte in either direction is
 * dropped and nothing is closed — a connection that silently stopped passing data (a NAT or proxy
 * that lost its state).
 */
export function relay(port = 0, o: { held?: boolean } = {}) {
  const target = new URL(cluster.APISERVER);
  let frozen = false;
  let held = o.held ?? false;
  const waiting: Client[] = [];
  const open = new Set<Client>();
  const connect = async (client: Client) => {
    const upstream = await Bun.connect({
      hostname: target.hostname,
      port: Number(target.port),
      socket: {
        data: (_s, d) => void (frozen || client.write(d)),
        close: () => void client.end(),
        error: () => void client.end(),
      },
    });
    client.data.peer = upstream as never;
    for (const b of client.data.buf) upstream.write(b);
  };
  const listener: TCPSocketListener<{ peer?: Socket<unknown>; buf: Uint8Array[] }> = Bun.listen({
    hostname: "127.0.0.1",
    port,
    socket: {
      async open(client) {
        client.data = { buf: [] };
        open.add(client);
        if (held) waiting.push(client);
        else await connect(client);
      },
      data(client, d) {
        if (frozen) return;
        if (client.data.peer) client.data.peer.write(d);
        else client.data.buf.push(new Uint8Array(d));
      },
      close(client) {
        open.delete(client);
        client.data.peer?.end();
      },
    },
  });
  return {
    port: listener.port,
    /** Connections accepted so far (held ones included). */
    accepted: () => open.size,
    release() {
      held = false;
      for (const c of waiting.splice(0)) if (open.has(c)) void connect(c);
    },
    freeze: () => void (frozen = true),
    thaw: () => void (frozen = false),
    cut() {
      listener.stop(true);
      for (const s of open) {
        s.data.peer?.end();
        s.end();
      }
      open.clear();
    },
  };
}

/** A kubeconfig that reaches the API server through the relay on `port` (client-certificate auth). */
export function kubeconfigVia(port: number): string {
  return writeFile(
    tempDir(),
    "kubeconfig",
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority-data": readFileSync(cluster.CA_FILE).toString("base64") } }],
      users: [
        {
          name: "u",
          user: {
            "client-certificate-data": readFileSync(cluster.CLIENT_CERT_FILE).toString("base64"),
            "client-key-data": readFileSync(cluster.CLIENT_KEY_FILE).toString("base64"),
          },
        },
      ],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
}
