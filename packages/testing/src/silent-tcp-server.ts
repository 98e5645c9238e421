import { type AddressInfo, createServer, type Socket } from 'node:net';

export type SilentTcpServer = {
  /** A Redis URL pointing at it. */
  url: string;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections still open: a client that gives up on it should have closed its own. */
  open(): number;
  close(): Promise<void>;
};

/**
 * A TCP listener on 127.0.0.1 that accepts every connection and never writes a byte: a Redis that
 * stalls, or something else on its port. A client's connect timeout does not cover it.
 */
export async function startSilentTcpServer(): Promise<SilentTcpServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    // What the client sends is read and dropped, so its closing the connection is seen.
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    accepted: () => accepted,
    open: () => sockets.size,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
