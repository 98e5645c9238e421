import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export type ReplyCuttingProxy = {
  /** A Redis URL pointing at the proxy. */
  url: string;
  /**
   * The next request that carries `marker` (a write id, say) reaches Redis, but the connection it came
   * on is closed before Redis's answer gets back: the command ran and its reply is lost.
   */
  cutReplyTo(marker: string): void;
  /** Connections cut so far. */
  cuts(): number;
  close(): Promise<void>;
};

/**
 * A TCP proxy on 127.0.0.1 in front of a real Redis that can lose a reply on purpose, which is what a
 * connection dropped at the worst moment does: the script ran, the client never heard.
 */
export async function startReplyCuttingProxy(redisUrl: string): Promise<ReplyCuttingProxy> {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let marker: string | undefined;
  let cuts = 0;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    let cutting = false;
    client.on('data', (chunk) => {
      if (marker !== undefined && chunk.includes(marker)) {
        marker = undefined;
        cutting = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!cutting) {
        client.write(chunk);
        return;
      }
      cuts += 1;
      client.destroy();
      upstream.destroy();
    });
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    cutReplyTo(text) {
      marker = text;
    },
    cuts: () => cuts,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
